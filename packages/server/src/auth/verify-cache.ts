import { createHmac, randomBytes } from 'node:crypto';

/**
 * Remembers recent successful password checks, so that a client sending Basic credentials on every request
 * pays the KDF once per TTL instead of once per request. Entries are keyed by an HMAC (with a key that never
 * leaves this process) of the user name, the password and the stored hash: a new password, a new hash or a
 * re-created user never matches an old entry. Failed checks are never remembered.
 */
export interface VerificationCacheOptions {
  /** Lifetime of an entry (default 2 minutes). */
  ttlMs?: number;
  /** Entries kept at once; the oldest is dropped beyond this (default 10,000). */
  maxEntries?: number;
  now?: () => number;
}

export class VerificationCache {
  readonly #key = randomBytes(32);
  readonly #entries = new Map<string, number>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(opts: VerificationCacheOptions = {}) {
    this.#ttlMs = opts.ttlMs ?? 120_000;
    this.#maxEntries = opts.maxEntries ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  #digest(name: string, password: string, hash: string): string {
    const mac = createHmac('sha256', this.#key);
    // Lengths first, so that no two different triples feed the same bytes.
    for (const part of [name, password, hash]) mac.update(`${Buffer.byteLength(part)}:`).update(part);
    return mac.digest('base64');
  }

  /** Whether this password was verified against this hash for this user within the TTL. */
  has(name: string, password: string, hash: string): boolean {
    const digest = this.#digest(name, password, hash);
    const expires = this.#entries.get(digest);
    if (expires === undefined) return false;
    if (expires <= this.#now()) {
      this.#entries.delete(digest);
      return false;
    }
    return true;
  }

  /** Records a successful verification. */
  add(name: string, password: string, hash: string): void {
    const digest = this.#digest(name, password, hash);
    this.#entries.delete(digest);
    this.#entries.set(digest, this.#now() + this.#ttlMs);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
