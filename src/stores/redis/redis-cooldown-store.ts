import { type CooldownStore, MAX_COOLDOWN_SECONDS } from "../../tokens/cooldown-store.js";
import type { Clock } from "../../tokens/types.js";
import type { MemoryCooldownStore } from "../memory/memory-cooldown-store.js";
import type { RedisHealth } from "./redis-health.js";

// How far ahead of this replica's clock another replica's may run.
const CLOCK_SKEW_SECONDS = 60;

export interface RedisCooldownStoreOptions {
  readonly health: RedisHealth;
  /** Prepended to every key (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  readonly clock: Clock;
  /** This replica's own cool-downs: asked first, and all there is while Redis is down. */
  readonly local: MemoryCooldownStore;
}

/**
 * Cool-downs shared by replicas, so a pair Aspose answered 429 through one replica is answered locally
 * by all. Each is a key `cooldown:<lookup key>` holding its end (by the injected clock, as verifiers
 * and lockouts are) and expiring with it, never later than MAX_COOLDOWN_SECONDS: the key count is
 * bounded by the 429s Aspose gave within that time. A value read back that ends later than that is
 * ignored, so a forged or corrupted entry cannot hold a pair for longer. A cool-down found in Redis is
 * kept locally too, so its callers cost no round trip. While Redis fails, the local cool-downs are all
 * there is: the worst case is one more call to Aspose for that pair, answered 429 again.
 */
export class RedisCooldownStore implements CooldownStore {
  readonly #health: RedisHealth;
  readonly #prefix: string;
  readonly #clock: Clock;
  readonly #local: MemoryCooldownStore;

  constructor(options: RedisCooldownStoreOptions) {
    this.#health = options.health;
    this.#prefix = options.keyPrefix;
    this.#clock = options.clock;
    this.#local = options.local;
  }

  async until(lookupKey: string): Promise<number | undefined> {
    const known = this.#local.untilNow(lookupKey);
    if (known !== undefined) return known;
    const step = await this.#health.attempt("cooldown", (send) => send("get", [this.#key(lookupKey)]));
    const untilMs = step.ok && typeof step.value === "string" ? Number(step.value) : Number.NaN;
    const now = this.#clock();
    // No replica writes an end past the cap (plus clock skew between replicas): such a value was forged
    // or corrupted, and is ignored rather than obeyed; the pair's next 429 writes a true one.
    if (!(untilMs > now) || untilMs > now + (MAX_COOLDOWN_SECONDS + CLOCK_SKEW_SECONDS) * 1000)
      return undefined;
    this.#local.rememberUntil(lookupKey, untilMs);
    return this.#local.untilNow(lookupKey);
  }

  async remember(lookupKey: string, untilMs: number): Promise<void> {
    this.#local.rememberUntil(lookupKey, untilMs);
    const bounded = this.#local.untilNow(lookupKey);
    if (bounded === undefined) return;
    const ttlMs = Math.min(MAX_COOLDOWN_SECONDS * 1000, Math.max(1, Math.ceil(bounded - this.#clock())));
    await this.#health.attempt("cooldown", (send) =>
      send("set", [this.#key(lookupKey), String(bounded), "PX", ttlMs]),
    );
  }

  /** The local tier only; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    await this.#local.close();
  }

  #key(lookupKey: string): string {
    return `${this.#prefix}cooldown:${lookupKey}`;
  }
}
