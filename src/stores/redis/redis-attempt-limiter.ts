import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import {
  type AttemptLimiter,
  type AttemptReservation,
  BUSY_RETRY_SECONDS,
  type LockoutListener,
  type LockoutPolicy,
  lockRefusal,
  type Refusal,
  type ReserveResult,
} from "../../limits/attempt-limiter.js";
import type { Clock } from "../../tokens/types.js";
import type { MemoryAttemptLimiter } from "../memory/memory-attempt-limiter.js";
import {
  LOCKED_FOR,
  type Outcome,
  RESERVE,
  SETTLE,
  type SubjectKeys,
  subjectKeys,
} from "./limiter-scripts.js";
import type { RedisHealth } from "./redis-health.js";

export interface RedisAttemptLimiterOptions {
  readonly health: RedisHealth;
  /** Prepended to every key (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  readonly policy: LockoutPolicy;
  readonly clock: Clock;
  /**
   * How long a reservation counts as in flight at most. A replica that dies mid-attempt never
   * settles it; past this it stops counting. Must cover a whole upstream call.
   */
  readonly reservationTtlMs: number;
  /** Takes over while Redis is down, and its lockouts keep counting after Redis returns. */
  readonly fallback: MemoryAttemptLimiter;
  readonly onLockout?: LockoutListener;
}

// How long a pair Redis found clear is taken as clear without asking again.
const CLEAR_REUSE_MS = 1000;

/**
 * Brute-force accounting shared by replicas: the in-memory limiter's rules (per clientId and per
 * address, in-flight attempts counted, doubling lockouts, a bounded window), kept in Redis and applied
 * atomically by Lua scripts, so guesses spread over replicas add up. Keys are the HMAC subject keys,
 * never a clientId or address in clear, and expire once their counts no longer matter. While Redis is
 * down the in-memory limiter takes over, and its lockouts still count once Redis is back.
 */
export class RedisAttemptLimiter implements AttemptLimiter {
  readonly #health: RedisHealth;
  readonly #prefix: string;
  readonly #policy: LockoutPolicy;
  readonly #clock: Clock;
  readonly #reservationTtlMs: number;
  readonly #fallback: MemoryAttemptLimiter;
  readonly #onLockout: LockoutListener | undefined;
  /** When Redis last found a subject (`c:` client key, `a:` address key) clear, in performance.now() ms. */
  readonly #recentlyClear = new LRUCache<string, number>({ max: 10_000 });

  constructor(options: RedisAttemptLimiterOptions) {
    this.#health = options.health;
    this.#prefix = options.keyPrefix;
    this.#policy = options.policy;
    this.#clock = options.clock;
    this.#reservationTtlMs = options.reservationTtlMs;
    this.#fallback = options.fallback;
    this.#onLockout = options.onLockout;
  }

  async lockedFor(clientKey: string, addressKey: string): Promise<Refusal | undefined> {
    const local = await this.#fallback.lockedFor(clientKey, addressKey);
    // Every request, cache hits included, asks this; subjects Redis found clear a moment ago are taken
    // as clear without another round trip. The staleness is bounded (real time, not the injected
    // clock: it is about propagation between replicas) and harmless: an upstream attempt still goes
    // through reserve(), which checks the shared lock atomically.
    const now = performance.now();
    if (
      local === undefined &&
      this.#clearAt(`c:${clientKey}`, now) &&
      this.#clearAt(`a:${addressKey}`, now)
    ) {
      return undefined;
    }
    const keys = subjectKeys(this.#prefix, clientKey, addressKey);
    const step = await this.#health.attempt("limiter", (client) =>
      LOCKED_FOR.run(client, [keys.clientState, keys.addressState], [this.#clock()]),
    );
    const [clientMs = 0, addressMs = 0] = (step.ok ? numbers(step.value) : undefined) ?? [];
    const shared = lockRefusal(seconds(clientMs), seconds(addressMs));
    if (step.ok && shared === undefined) {
      this.#recentlyClear.set(`c:${clientKey}`, now);
      this.#recentlyClear.set(`a:${addressKey}`, now);
    } else {
      this.#forget(clientKey, addressKey);
    }
    if (local === undefined) return shared;
    return shared === undefined || local.retryAfterSeconds >= shared.retryAfterSeconds ? local : shared;
  }

  async reserve(clientKey: string, addressKey: string): Promise<ReserveResult> {
    const local = await this.#fallback.lockedFor(clientKey, addressKey);
    if (local !== undefined) return { allowed: false, ...local };
    const keys = subjectKeys(this.#prefix, clientKey, addressKey);
    const id = randomBytes(12).toString("base64url");
    const policy = this.#policy;
    const step = await this.#health.attempt("limiter", (client) =>
      RESERVE.run(
        client,
        [keys.clientState, keys.addressState, keys.clientPending, keys.addressPending],
        [
          this.#clock(),
          policy.windowSeconds * 1000,
          policy.threshold,
          policy.addressThreshold,
          id,
          this.#reservationTtlMs,
        ],
      ),
    );
    const reply = step.ok ? numbers(step.value) : undefined;
    if (reply === undefined) {
      if (!step.ok && step.reason === "failed") {
        // The reply timed out, so the script may have granted a place this caller will not use: give
        // it back, and refuse for a second rather than grant a second, local budget on top of the
        // shared one (a burst that slows Redis down would otherwise get both). Known-good credentials
        // never come here; once Redis is found down, the local limiter takes over below.
        void this.#settleShared(keys, id, "release");
        return { allowed: false, retryAfterSeconds: BUSY_RETRY_SECONDS, reason: "shared_store_slow" };
      }
      return this.#fallback.reserve(clientKey, addressKey);
    }
    const [allowed, clientMs = 0, addressMs = 0, busy] = reply;
    if (allowed !== 1) {
      const locked = lockRefusal(seconds(clientMs), seconds(addressMs));
      if (locked !== undefined) return { allowed: false, ...locked };
      const reason = busy === 2 ? "address_busy" : "client_busy";
      return { allowed: false, retryAfterSeconds: BUSY_RETRY_SECONDS, reason };
    }
    return { allowed: true, reservation: this.#reservation(clientKey, addressKey, keys, id) };
  }

  #clearAt(subject: string, now: number): boolean {
    const since = this.#recentlyClear.get(subject);
    return since !== undefined && now - since < CLEAR_REUSE_MS;
  }

  #forget(clientKey: string, addressKey: string): void {
    this.#recentlyClear.delete(`c:${clientKey}`);
    this.#recentlyClear.delete(`a:${addressKey}`);
  }

  /** The fallback's state only; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    await this.#fallback.close();
  }

  #reservation(clientKey: string, addressKey: string, keys: SubjectKeys, id: string): AttemptReservation {
    // In flight for the fallback too: were Redis to fail now, it must not grant a fresh budget.
    const releaseLocal = this.#fallback.hold(clientKey, addressKey);
    let settled = false;
    const settle = async (outcome: Outcome): Promise<void> => {
      if (settled) return;
      settled = true;
      releaseLocal();
      // This replica's own failure may have locked the pair: ask Redis again next time.
      if (outcome === "failure") this.#forget(clientKey, addressKey);
      // If Redis cannot take the outcome, the reservation expires by itself; a failure must still
      // count somewhere.
      if (!(await this.#settleShared(keys, id, outcome)) && outcome === "failure")
        await this.#recordLocally(clientKey, addressKey);
    };
    return {
      succeeded: () => settle("success"),
      failed: () => settle("failure"),
      released: () => settle("release"),
    };
  }

  /** Applies an attempt's outcome in Redis; false when Redis could not take it. */
  async #settleShared(keys: SubjectKeys, id: string, outcome: Outcome): Promise<boolean> {
    const policy = this.#policy;
    const step = await this.#health.attempt("limiter", (client) =>
      SETTLE.run(
        client,
        [keys.clientState, keys.addressState, keys.clientPending, keys.addressPending],
        [
          this.#clock(),
          policy.windowSeconds * 1000,
          policy.threshold,
          policy.addressThreshold,
          policy.baseSeconds * 1000,
          policy.maxSeconds * 1000,
          id,
          outcome,
        ],
      ),
    );
    const reply = step.ok ? numbers(step.value) : undefined;
    if (reply === undefined) return false;
    if (reply[0] === 1) this.#onLockout?.("client");
    if (reply[1] === 1) this.#onLockout?.("address");
    return true;
  }

  async #recordLocally(clientKey: string, addressKey: string): Promise<void> {
    const local = await this.#fallback.reserve(clientKey, addressKey);
    if (local.allowed) await local.reservation.failed();
  }
}

// The whole seconds a lockout of `ms` is reported as (lockedSeconds()'s rounding), undefined when none.
function seconds(ms: number): number | undefined {
  return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : undefined;
}

function numbers(reply: unknown): number[] | undefined {
  if (!Array.isArray(reply)) return undefined;
  const values = reply as unknown[];
  return values.every((value) => typeof value === "number") ? (values as number[]) : undefined;
}
