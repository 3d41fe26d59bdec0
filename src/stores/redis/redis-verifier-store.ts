import type { VerifierStore } from "../../limits/verifier-store.js";
import type { Clock } from "../../tokens/types.js";
import type { MemoryVerifierStore } from "../memory/memory-verifier-store.js";
import type { RedisHealth } from "./redis-health.js";

export interface RedisVerifierStoreOptions {
  readonly health: RedisHealth;
  /** Prepended to every key (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  /** How long a verifier lasts after Aspose last accepted its credential (VERIFIER_TTL_SECONDS). */
  readonly ttlMs: number;
  readonly clock: Clock;
  /** This replica's own verifiers: asked first, and all there is while Redis is down. */
  readonly local: MemoryVerifierStore;
}

/**
 * Verifiers shared by replicas, so a credential accepted through one replica passes the lockouts on
 * all. Each is a key `verifier:<lookup key>` holding its expiry (by the injected clock, as the
 * limiter's lockouts are) and expiring with it. Found verifiers are kept locally too, so a known-good
 * caller's cache hits cost no Redis round trip; a verifier another replica dropped may therefore
 * linger here, which costs at most one more upstream attempt with that credential, whose rejection
 * drops it here as well. While Redis is down, local verifiers are all there is: a credential first
 * accepted elsewhere is treated as unverified (the lockouts apply to it).
 */
export class RedisVerifierStore implements VerifierStore {
  readonly #health: RedisHealth;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #clock: Clock;
  readonly #local: MemoryVerifierStore;

  constructor(options: RedisVerifierStoreOptions) {
    this.#health = options.health;
    this.#prefix = options.keyPrefix;
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
    this.#local = options.local;
  }

  async has(lookupKey: string): Promise<boolean> {
    if (this.#local.expiresAt(lookupKey) !== undefined) return true;
    const step = await this.#health.attempt("verifier", (send) => send("get", [this.#key(lookupKey)]));
    const expiresAtMs = step.ok && typeof step.value === "string" ? Number(step.value) : Number.NaN;
    if (!(expiresAtMs > this.#clock())) return false;
    this.#local.rememberUntil(lookupKey, expiresAtMs);
    return true;
  }

  async remember(lookupKey: string, coverUntilMs: number): Promise<void> {
    const now = this.#clock();
    const expiresAtMs = Math.max(now + this.#ttlMs, coverUntilMs);
    this.#local.rememberUntil(lookupKey, expiresAtMs);
    await this.#health.attempt("verifier", (send) =>
      send("set", [
        this.#key(lookupKey),
        String(expiresAtMs),
        "PX",
        Math.max(1, Math.ceil(expiresAtMs - now)),
      ]),
    );
  }

  async forget(lookupKey: string): Promise<void> {
    await this.#local.forget(lookupKey);
    await this.#health.attempt("verifier", (send) => send("del", [this.#key(lookupKey)]));
  }

  /** The local tier only; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    await this.#local.close();
  }

  #key(lookupKey: string): string {
    return `${this.#prefix}verifier:${lookupKey}`;
  }
}
