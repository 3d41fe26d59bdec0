import { LRUCache } from "lru-cache";
import { SingleFlight } from "./single-flight.js";
import type { ObtainRequest, ObtainResult, TokenCache } from "./token-cache.js";
import type { Clock, IssuedToken } from "./types.js";

export interface MemoryTokenCacheOptions {
  /** 0 disables storing: every request fetches, concurrent ones still share one fetch. */
  readonly maxEntries: number;
  readonly clock: Clock;
}

/**
 * A process-wide LRU of issued tokens with single-flight fetches. Bounded twice: by entry count, so a
 * flood of distinct credentials cannot grow memory, and by each token's own expiry.
 */
export class MemoryTokenCache implements TokenCache {
  readonly #entries: LRUCache<string, IssuedToken> | undefined;
  readonly #flights = new SingleFlight<IssuedToken>();
  readonly #clock: Clock;

  constructor(options: MemoryTokenCacheOptions) {
    this.#clock = options.clock;
    this.#entries =
      options.maxEntries > 0
        ? new LRUCache<string, IssuedToken>({
            max: options.maxEntries,
            // Expiry follows the injected clock, so tests move time instead of sleeping. No autopurge
            // timers: an expired entry is dropped when touched or pushed out by the LRU bound.
            perf: { now: options.clock },
            ttlResolution: 0,
          })
        : undefined;
  }

  async obtain(request: ObtainRequest): Promise<ObtainResult> {
    if (!request.forceRefresh) {
      const stored = this.#entries?.get(request.key);
      if (stored !== undefined && request.isUsable(stored)) return { token: stored, source: "cache" };
    }
    const flight = this.#flights.run(request.key, async () => {
      const token = await request.fetch();
      const ttl = token.expiresAtMs - this.#clock();
      if (ttl > 0) this.#entries?.set(request.key, token, { ttl });
      return token;
    });
    return { token: await flight.promise, source: flight.leader ? "upstream" : "joined" };
  }

  size(): number {
    return this.#entries?.size ?? 0;
  }

  async close(): Promise<void> {
    this.#entries?.clear();
  }
}
