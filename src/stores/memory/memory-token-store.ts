import { LRUCache } from "lru-cache";
import type { Credential } from "../../tokens/credential.js";
import type { FetchClaim, StoredToken, TokenStore } from "../../tokens/ports.js";
import type { Clock, IssuedToken } from "../../tokens/types.js";

export interface MemoryTokenStoreOptions {
  /** 0 disables storing (TOKEN_CACHE=off): every request fetches, concurrent ones still share one. */
  readonly maxEntries: number;
  readonly clock: Clock;
}

// One process has no other replica to share a fetch with: its single flight is the claim, and an entry
// written since the caller looked (by a flight that ended in between) is the newer entry.
const GRANTED: FetchClaim = { kind: "granted", release: async () => {} };

/**
 * A process-wide LRU of issued tokens. Bounded twice: by entry count, so a flood of distinct
 * credentials cannot grow memory, and by each token's own expiry.
 */
export class MemoryTokenStore implements TokenStore {
  readonly #entries: LRUCache<string, StoredToken> | undefined;
  #version = 0;

  constructor(options: MemoryTokenStoreOptions) {
    this.#entries =
      options.maxEntries > 0
        ? new LRUCache<string, StoredToken>({
            max: options.maxEntries,
            // Expiry follows the injected clock, so tests move time instead of sleeping. No autopurge
            // timers: an expired entry is dropped when touched or pushed out by the LRU bound.
            perf: { now: options.clock },
            ttlResolution: 0,
          })
        : undefined;
  }

  async get(credential: Credential): Promise<StoredToken | undefined> {
    return this.#entries?.get(credential.lookupKey);
  }

  async put(credential: Credential, token: IssuedToken, ttlMs: number): Promise<void> {
    this.remember(credential.lookupKey, { token, version: String(++this.#version) }, ttlMs);
  }

  /** Stores an entry under its lookup key as it is (a shared store's local tier keeps its version). */
  remember(lookupKey: string, stored: StoredToken, ttlMs: number): void {
    if (ttlMs > 0) this.#entries?.set(lookupKey, stored, { ttl: ttlMs });
  }

  async delete(credential: Credential): Promise<void> {
    this.#entries?.delete(credential.lookupKey);
  }

  /** An entry stored since `seen` (by another flight in this process) is returned; else granted. */
  async claim(credential: Credential, seen: StoredToken | undefined): Promise<FetchClaim> {
    const current = this.#entries?.get(credential.lookupKey);
    return current !== undefined && current.version !== seen?.version
      ? { kind: "stored", stored: current }
      : GRANTED;
  }

  size(): number {
    return this.#entries?.size ?? 0;
  }

  async close(): Promise<void> {
    this.#entries?.clear();
  }
}
