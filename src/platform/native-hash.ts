import type { Algorithm, RunningHash } from '../oci/index.ts';
import { nativeHashBinding, type HashBinding, type HashHandle } from './native.ts';

/**
 * Below this a chunk is hashed on the calling thread: a thread-pool round trip costs more
 * than hashing 64 KiB (about 45 µs).
 */
const POOL_MIN = 64 * 1024;

/**
 * A {@link RunningHash} whose large updates run on libuv's thread pool, in the caller's own
 * buffer (`native/sendfile/hash.c`). The default for large uploads when the addon is built:
 * the event loop reads and writes the next chunk while this one is hashed, with no copy.
 */
export class NativeHasher implements RunningHash {
  readonly algorithm: Algorithm;
  #handle: HashHandle;
  #bytes = 0;
  #disposed = false;

  constructor(
    private readonly binding: HashBinding,
    algorithm: Algorithm,
  ) {
    this.algorithm = algorithm;
    this.#handle = binding.hashCreate(algorithm);
  }

  get size(): number {
    return this.#bytes;
  }

  update(chunk: Uint8Array): void | Promise<void> {
    // Disposed (the session was cancelled or evicted mid-upload): the bytes still reach the
    // file, and completion rebuilds the digest from it, as when the hash thread stops.
    if (this.#disposed) return;
    this.#bytes += chunk.length;
    if (chunk.length < POOL_MIN) return void this.binding.hashUpdate(this.#handle, chunk, false);
    return this.binding.hashUpdate(this.#handle, chunk, true);
  }

  peek(): string | null {
    return this.#disposed ? null : `${this.algorithm}:${this.binding.hashPeek(this.#handle)}`;
  }

  /** Frees the state (or, while an update runs on the pool, leaves it to the handle's finalizer). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.binding.hashFree(this.#handle);
  }
}

/** A native hasher, or null without the addon (or with `SKIFF_NATIVE_HASH=off`). Loads the addon on first use. */
export function nativeHasher(algorithm: Algorithm, env: NodeJS.ProcessEnv = process.env): RunningHash | null {
  const binding = nativeHashBinding(env);
  return binding ? new NativeHasher(binding, algorithm) : null;
}
