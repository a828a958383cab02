/**
 * What sync needs from an upstream, whatever it is: a registry over HTTP (http-upstream.ts)
 * or an OCI layout on a local disk (layout-upstream.ts, for seeding a site from a USB disk
 * with the same config it uses online). Repository names here are upstream names.
 */
import type { Descriptor } from '../../oci/index.ts';

/** A manifest as the upstream serves it. `body` is absent for a HEAD. */
export interface UpstreamManifest {
  /** '' after a HEAD the upstream answered without Docker-Content-Digest. */
  digest: string;
  mediaType: string;
  body?: Buffer;
}

/** A blob body from `start` (a registry may ignore a Range and start at 0). */
export interface UpstreamBlob {
  body: AsyncIterable<Buffer>;
  start: number;
}

export interface ManifestRequest {
  /** HEAD: digest and media type only (cheap re-checks of a tag). */
  head?: boolean;
  /** A quick check for content held locally: short timeout, no retries. */
  probe?: boolean;
  signal?: AbortSignal;
}

export interface Upstream {
  /** The URL as configured, for logs and backoff state. */
  readonly url: string;
  /** Null when the upstream does not have it (404, or 401/403 after authenticating). */
  manifest(repo: string, reference: string, req: ManifestRequest): Promise<UpstreamManifest | null>;
  /** Opens a blob from byte `offset` (a Range request when > 0). */
  blob(repo: string, digest: string, offset: number, signal?: AbortSignal): Promise<UpstreamBlob>;
  tags(repo: string, signal?: AbortSignal): Promise<string[]>;
  catalog(signal?: AbortSignal): Promise<string[]>;
  /** Referrers of `digest`: the referrers API, else the referrers tag schema (`sha256-<hex>`). */
  referrers(repo: string, digest: string, signal?: AbortSignal): Promise<Descriptor[]>;
  close(): Promise<void>;
}

/** The tag the referrers tag schema uses for a subject (distribution-spec "Referrers Tag Schema"). */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-').slice(0, 128);
}

/** True for a local upstream: `file:///path` or an absolute path. */
export function isLocalUrl(url: string): boolean {
  return url.startsWith('file://') || url.startsWith('/');
}
