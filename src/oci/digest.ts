import { createHash, type Hash } from 'node:crypto';
import { RegistryError } from '../errors/index.ts';

/**
 * Digest grammar, OCI image-spec descriptor.md "Digests":
 *   digest    ::= algorithm ":" encoded
 *   algorithm ::= algorithm-component (algorithm-separator algorithm-component)*
 *   algorithm-component ::= [a-z0-9]+ ; algorithm-separator ::= [+._-]
 *   encoded   ::= [a-zA-Z0-9=_-]+
 * Registered algorithms pin the encoded form further: sha256 is 64 and sha512 128
 * lower-case hex characters.
 */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Algorithms this registry can verify, with their encoded-length rule. */
export const ALGORITHMS = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
} as const;

export type Algorithm = keyof typeof ALGORITHMS;

/** A parsed, validated digest. */
export interface Digest {
  readonly algorithm: Algorithm;
  readonly hex: string;
  /** The canonical text form `alg:hex`. */
  readonly value: string;
}

/** True when `s` looks like a digest at all (used to tell tags from digests). */
export function looksLikeDigest(s: string): boolean {
  return s.includes(':');
}

/**
 * Parses and validates a digest; throws DIGEST_INVALID for a malformed value or an
 * algorithm this registry cannot verify (distribution-spec: registries reject digests
 * they cannot check rather than store unverified content).
 */
export function parseDigest(s: string): Digest {
  if (!DIGEST_GRAMMAR.test(s)) throw new RegistryError('DIGEST_INVALID', `invalid digest "${truncate(s)}"`);
  const i = s.indexOf(':');
  const algorithm = s.slice(0, i);
  const hex = s.slice(i + 1);
  if (!(algorithm in ALGORITHMS)) {
    throw new RegistryError('DIGEST_INVALID', `unsupported digest algorithm "${truncate(algorithm)}"`);
  }
  const alg = algorithm as Algorithm;
  if (!ALGORITHMS[alg].test(hex)) throw new RegistryError('DIGEST_INVALID', `invalid ${alg} digest "${truncate(s)}"`);
  return { algorithm: alg, hex, value: s };
}

/** Digest of a whole buffer (manifests); blobs use {@link StreamingHasher}. */
export function digestOf(data: Uint8Array, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/**
 * A running hash fed chunk by chunk as a blob streams to disk, so no blob is ever held
 * whole in memory or read back to be verified. It may run on this thread or another.
 */
export interface RunningHash {
  readonly algorithm: Algorithm;
  /** Bytes fed so far. */
  readonly size: number;
  /** Feeds `chunk`; its memory may be reused once this returns (or its promise settles). */
  update(chunk: Uint8Array): void | Promise<void>;
  /**
   * The digest so far, without ending the running hash. Null when the running state was
   * lost (its thread stopped): the caller rebuilds it from what was written.
   */
  peek(): string | null | Promise<string | null>;
  /** Frees the running state; the hash is not used again. */
  dispose(): void;
}

/** A {@link RunningHash} on the calling thread. */
export class StreamingHasher implements RunningHash {
  readonly algorithm: Algorithm;
  private hash: Hash;
  private bytes = 0;

  constructor(algorithm: Algorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
  }

  get size(): number {
    return this.bytes;
  }

  /** The digest so far, without ending the running hash (so more chunks may follow). */
  peek(): string {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}`;
  }

  dispose(): void {}
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}
