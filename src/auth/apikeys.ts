import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from '../platform/watched-files.ts';
import { AuthInputError, type Identity } from './types.ts';

/** zot's prefix for API keys; a Basic password with it is looked up as a key. */
export const API_KEY_PREFIX = 'zak_';
/** Go's zero time, which zot reports as the expiration of a key that never expires. */
const NEVER = '0001-01-01T00:00:00Z';

/** A stored key. Only the SHA-256 of the key is kept: the key itself is shown once. */
export interface ApiKeyRecord {
  uuid: string;
  /** Hex SHA-256 of the whole key (`zak_...`). Keys are 128 random bits, so a fast hash is enough. */
  hash: string;
  user: string;
  /** The owner's groups when the key was made (so group policies apply to the key). */
  groups: string[];
  label: string;
  scopes: string[];
  createdAt: string;
  expirationDate: string;
  creatorUA: string;
  generatedBy: string;
  lastUsed: string;
}

/** The shape zot's GET /zot/auth/apikey returns per key (never the hash). */
export interface ApiKeyDetails {
  uuid: string;
  label: string;
  scopes: string[];
  createdAt: string;
  expirationDate: string;
  isExpired: boolean;
  creatorUA: string;
  generatedBy: string;
  lastUsed: string;
}

/** Persistence for API keys, behind an interface so a database could replace the file. */
export interface ApiKeyStore {
  load(): Promise<void>;
  byHash(hash: string): ApiKeyRecord | undefined;
  list(user: string): ApiKeyRecord[];
  add(rec: ApiKeyRecord): Promise<void>;
  /** False when no key with that id belongs to `user`. */
  remove(user: string, uuid: string): Promise<boolean>;
  /** Records a use (persisted lazily: a use is not worth a disk write per request). */
  touch(rec: ApiKeyRecord, when: Date): void;
  close(): Promise<void>;
}

/**
 * API keys in one JSON file (mode 0600) under the storage root's state directory,
 * rewritten atomically on every change. Keys are few (a handful per user), and lookups
 * are served from memory by hash.
 */
export class JsonFileApiKeyStore implements ApiKeyStore {
  private readonly byHashMap = new Map<string, ApiKeyRecord>();
  private writing: Promise<void> = Promise.resolve();
  private dirtyTimer: NodeJS.Timeout | undefined;

  constructor(private readonly path: string) {}

  async load(): Promise<void> {
    const raw = await readFileIfExists(this.path);
    if (!raw) return;
    const doc = JSON.parse(raw.toString('utf8')) as { keys?: ApiKeyRecord[] };
    for (const k of doc.keys ?? []) this.byHashMap.set(k.hash, k);
  }

  byHash(hash: string): ApiKeyRecord | undefined {
    return this.byHashMap.get(hash);
  }

  list(user: string): ApiKeyRecord[] {
    return [...this.byHashMap.values()].filter((k) => k.user === user).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  add(rec: ApiKeyRecord): Promise<void> {
    this.byHashMap.set(rec.hash, rec);
    return this.persist();
  }

  async remove(user: string, uuid: string): Promise<boolean> {
    for (const [h, k] of this.byHashMap) {
      if (k.uuid === uuid && k.user === user) {
        this.byHashMap.delete(h);
        await this.persist();
        return true;
      }
    }
    return false;
  }

  touch(rec: ApiKeyRecord, when: Date): void {
    rec.lastUsed = when.toISOString();
    if (this.dirtyTimer) return;
    this.dirtyTimer = setTimeout(() => {
      this.dirtyTimer = undefined;
      void this.persist().catch(() => undefined);
    }, 10_000);
    this.dirtyTimer.unref();
  }

  private persist(): Promise<void> {
    // Writes are chained so two changes never race to rename over each other.
    const next = this.writing.then(() => writeFileAtomic(this.path, JSON.stringify({ keys: [...this.byHashMap.values()] }, null, 1)));
    this.writing = next.catch(() => undefined);
    return next;
  }

  async close(): Promise<void> {
    if (this.dirtyTimer) {
      clearTimeout(this.dirtyTimer);
      this.dirtyTimer = undefined;
      await this.persist().catch(() => undefined);
    }
    await this.writing;
  }
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The request body of POST /zot/auth/apikey. */
export interface ApiKeyRequest {
  label?: unknown;
  scopes?: unknown;
  expirationDate?: unknown;
}

/**
 * zot's API keys (`http.auth.apikey`): created by a logged-in user, returned once, sent
 * later as the Basic-auth password with the owner's name as user.
 *
 * `scopes` are stored and, when not empty, enforced as repository globs (the key can
 * only act on matching repositories, never beyond its owner's rights); zot stores them
 * without enforcing anything, which would make the field a false promise.
 */
export class ApiKeys {
  constructor(private readonly store: ApiKeyStore) {}

  /** Creates a key for `owner`; returns the details plus the key itself (shown once). */
  async create(owner: Identity, body: ApiKeyRequest, userAgent: string, now = new Date()): Promise<ApiKeyDetails & { apiKey: string }> {
    const label = typeof body.label === 'string' ? body.label : '';
    if (label.length > 256) throw new AuthInputError('label is longer than 256 characters');
    if (body.scopes !== undefined && body.scopes !== null && (!Array.isArray(body.scopes) || body.scopes.some((s) => typeof s !== 'string'))) {
      throw new AuthInputError('scopes must be a list of strings');
    }
    const scopes = (body.scopes as string[] | undefined | null) ?? [];
    let expirationDate = NEVER;
    if (body.expirationDate !== undefined && body.expirationDate !== '') {
      const t = typeof body.expirationDate === 'string' ? Date.parse(body.expirationDate) : NaN;
      if (Number.isNaN(t)) throw new AuthInputError('expirationDate must be an RFC 3339 date-time');
      if (t <= now.getTime()) throw new AuthInputError('expirationDate is in the past');
      expirationDate = new Date(t).toISOString();
    }
    const apiKey = API_KEY_PREFIX + randomBytes(16).toString('hex');
    const rec: ApiKeyRecord = {
      uuid: randomUUID(),
      hash: sha256(apiKey),
      user: owner.name,
      groups: [...owner.groups],
      label,
      scopes,
      createdAt: now.toISOString(),
      expirationDate,
      creatorUA: userAgent.slice(0, 256),
      generatedBy: 'manual',
      lastUsed: NEVER,
    };
    await this.store.add(rec);
    return { ...details(rec, now), apiKey };
  }

  list(user: string, now = new Date()): ApiKeyDetails[] {
    return this.store.list(user).map((r) => details(r, now));
  }

  revoke(user: string, uuid: string): Promise<boolean> {
    return this.store.remove(user, uuid);
  }

  /** The identity of a valid, unexpired key whose owner is `user`; null otherwise. */
  verify(user: string, key: string, now = new Date()): Identity | null {
    if (!key.startsWith(API_KEY_PREFIX)) return null;
    const hash = sha256(key);
    const rec = this.store.byHash(hash);
    if (!rec || !timingSafeEqual(Buffer.from(rec.hash), Buffer.from(hash))) return null;
    if (rec.user !== user || expired(rec, now)) return null;
    this.store.touch(rec, now);
    return { name: rec.user, groups: rec.groups, method: 'apikey', ...(rec.scopes.length > 0 ? { keyScopes: rec.scopes } : {}) };
  }
}

function expired(rec: ApiKeyRecord, now: Date): boolean {
  return rec.expirationDate !== NEVER && Date.parse(rec.expirationDate) <= now.getTime();
}

function details(rec: ApiKeyRecord, now: Date): ApiKeyDetails {
  return {
    uuid: rec.uuid,
    label: rec.label,
    scopes: rec.scopes,
    createdAt: rec.createdAt,
    expirationDate: rec.expirationDate,
    isExpired: expired(rec, now),
    creatorUA: rec.creatorUA,
    generatedBy: rec.generatedBy,
    lastUsed: rec.lastUsed,
  };
}
