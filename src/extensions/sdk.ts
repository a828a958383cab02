import type { Logger } from 'pino';
import type { DiscoveredExtension } from '../api/context.ts';
import type { Job } from '../app/scheduler.ts';
import type { SkiffConfig } from '../config/types.ts';
import type { Route } from '../http/types.ts';
import type { Storage, StoredManifest } from '../storage/index.ts';

/**
 * The one contract between core and extensions. Core never imports an extension; the
 * build's `enabled.ts` lists the descriptors a build includes, so a minimal build (an
 * empty list) carries no extension code at all.
 */

/** What an extension may use: narrow on purpose. */
export interface ExtensionContext {
  /** The whole normalized config, read-only (the extension reads its own section). */
  readonly config: Readonly<SkiffConfig>;
  /** Storage through its facade (roles), never its internals. */
  readonly storage: Storage;
  /** A child logger (`module: <extension name>`). */
  readonly log: Logger;
  /** zot's audit log, when configured. */
  readonly audit?: Logger;
  /** Adds a recurring background job to the registry's scheduler. */
  schedule(job: Job): void;
}

/**
 * Called by the manifest and referrers handlers before they read storage. An extension
 * may fill storage first (on-demand sync) and must resolve; failures are its own to log
 * (serving whatever storage holds is always the fallback).
 */
export interface LookupHooks {
  /** Before `GET/HEAD /v2/<repo>/manifests/<reference>`; `local` is what storage holds now. */
  beforeManifest?(repo: string, reference: string, local: StoredManifest | null): Promise<void>;
  /** Before `GET /v2/<repo>/referrers/<digest>`. */
  beforeReferrers?(repo: string, digest: string): Promise<void>;
}

/** A running extension. */
export interface ExtensionInstance {
  routes?: Route[];
  hooks?: LookupHooks;
  /** Entries for `/v2/_oci/ext/discover`. */
  discover?: DiscoveredExtension[];
  close?(): Promise<void>;
}

/** What each extension folder exports. */
export interface ExtensionDescriptor {
  /** Short name, e.g. `sync`; also the logger's module name. */
  readonly name: string;
  /** The config key of its section, e.g. `extensions.sync` (reported by verify). */
  readonly configKey: string;
  /** Whether the config turns it on (zot: a section present without `enable` is on). */
  enabled(config: SkiffConfig): boolean;
  init(ctx: ExtensionContext): Promise<ExtensionInstance>;
}
