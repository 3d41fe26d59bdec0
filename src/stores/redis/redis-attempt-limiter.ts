import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import {
  type AttemptLimiter,
  type AttemptReservation,
  BUSY_RETRY_SECONDS,
  type LockoutListener,
  type LockoutPolicy,
  type LockoutSubject,
  lockRefusal,
  type Refusal,
  type ReserveResult,
} from "../../limits/attempt-limiter.js";
import type { Clock } from "../../tokens/types.js";
import type { LocalReservation, MemoryAttemptLimiter, Outcome } from "../memory/memory-attempt-limiter.js";
import { type AttemptCall, lockedForIn, reserveIn, settleIn } from "./limiter-calls.js";
import { type LimiterKeys, limiterKeys, MAX_SUBJECTS } from "./limiter-scripts.js";
import type { RedisHealth } from "./redis-health.js";
import { SettleRetries } from "./settle-retries.js";

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
  /** This replica's own counts: kept beside Redis's always, and all there is when Redis cannot answer. */
  readonly local: MemoryAttemptLimiter;
  readonly onLockout?: LockoutListener;
  /** Subjects kept in Redis at most (default MAX_SUBJECTS). */
  readonly maxSubjects?: number;
}

// How long a pair Redis found clear is taken as clear without asking again.
const CLEAR_REUSE_MS = 1000;

/** An outcome owed to Redis: a failure is owed as a release (see #settleShared). */
interface OwedSettle {
  readonly clientKey: string;
  readonly addressKey: string;
  readonly outcome: "success" | "release";
}

/**
 * Brute-force accounting shared by replicas: the in-memory limiter's rules (per clientId and per
 * address, in-flight attempts counted, doubling lockouts, a bounded window), kept in Redis and applied
 * atomically by Lua scripts, so guesses spread over replicas add up.
 *
 * It fails closed to local enforcement: every attempt is also reserved and settled in this replica's
 * own limiter, and lockouts Redis reports are kept there too, so each decision is the stricter of the
 * two. When Redis refuses (no permission, out of memory), times out, has lost the counters (an
 * eviction, a dead shard) or is down, this replica's counts still lock out as the in-memory limiter
 * would; a request is never refused only because Redis could not answer.
 */
export class RedisAttemptLimiter implements AttemptLimiter {
  readonly #health: RedisHealth;
  readonly #keys: LimiterKeys;
  readonly #policy: LockoutPolicy;
  readonly #clock: Clock;
  readonly #reservationTtlMs: number;
  readonly #local: MemoryAttemptLimiter;
  readonly #onLockout: LockoutListener | undefined;
  readonly #maxSubjects: number;
  /** When Redis last found a subject (`c:` client key, `a:` address key) clear, in performance.now() ms. */
  readonly #recentlyClear = new LRUCache<string, number>({ max: 10_000 });
  readonly #owed: SettleRetries<OwedSettle>;

  constructor(options: RedisAttemptLimiterOptions) {
    this.#health = options.health;
    this.#keys = limiterKeys(options.keyPrefix);
    this.#policy = options.policy;
    this.#clock = options.clock;
    this.#reservationTtlMs = options.reservationTtlMs;
    this.#local = options.local;
    this.#onLockout = options.onLockout;
    this.#maxSubjects = options.maxSubjects ?? MAX_SUBJECTS;
    this.#owed = new SettleRetries(async (id, { clientKey, addressKey, outcome }) => {
      const call = { ...this.#call(clientKey, addressKey), id, outcome, maxSubjects: this.#maxSubjects };
      const step = await this.#health.attempt("limiter", (send) => settleIn(send, call));
      return step.ok || step.reason === "refused";
    }, options.reservationTtlMs);
    // Scripts refused (an ACL user without +@scripting, a tier without EVAL) are found at connection,
    // not at the first guess: /readyz and the metric say so from the start.
    options.health.onReady(() => void this.#ask("probe", "probe"));
  }

  async lockedFor(clientKey: string, addressKey: string): Promise<Refusal | undefined> {
    const local = await this.#local.lockedFor(clientKey, addressKey);
    // Every request, cache hits included, asks this; subjects Redis found clear a moment ago are taken
    // as clear without another round trip. The staleness is bounded (real time, not the injected
    // clock: it is about propagation between replicas) and harmless: an upstream attempt still goes
    // through reserve(), which checks the shared lock atomically.
    const now = performance.now();
    if (local === undefined && this.#clearAt(`c:${clientKey}`, now) && this.#clearAt(`a:${addressKey}`, now))
      return undefined;
    const shared = await this.#ask(clientKey, addressKey);
    if (shared === undefined) {
      this.#forget(clientKey, addressKey);
      return local;
    }
    const refusal = this.#keep(clientKey, addressKey, shared[0], shared[1]);
    if (refusal === undefined) {
      this.#recentlyClear.set(`c:${clientKey}`, now);
      this.#recentlyClear.set(`a:${addressKey}`, now);
    }
    return stricter(local, refusal);
  }

  async reserve(clientKey: string, addressKey: string): Promise<ReserveResult> {
    // This replica's own budget first: it refuses whatever Redis would say.
    const local = this.#local.reserveLocally(clientKey, addressKey);
    if (!local.allowed) return local;
    const id = randomBytes(12).toString("base64url");
    const call = { ...this.#call(clientKey, addressKey), id, ttlMs: this.#reservationTtlMs };
    const step = await this.#health.attempt("limiter", (send) => reserveIn(send, call));
    const reply = step.ok ? step.value : undefined;
    // No answer: the local reservation alone decides. Its outcome is still offered to Redis with the
    // same id, so a reservation that ran after all is dropped and a failure counts there too.
    if (reply === undefined || reply.kind === "reserved")
      return { allowed: true, reservation: this.#reservation(clientKey, addressKey, id, local) };
    local.cancel();
    if (reply.kind === "locked") {
      const locked = this.#keep(clientKey, addressKey, reply.clientMs, reply.addressMs);
      if (locked !== undefined) return { allowed: false, ...locked };
    }
    const subject = reply.kind === "busy" ? reply.subject : "client";
    return { allowed: false, retryAfterSeconds: BUSY_RETRY_SECONDS, reason: `${subject}_busy` };
  }

  /** The local counts only; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    this.#owed.close();
    await this.#local.close();
  }

  /** The ms left of each subject's shared lockout, or undefined when Redis could not tell. */
  async #ask(clientKey: string, addressKey: string): Promise<[number, number] | undefined> {
    const call = this.#call(clientKey, addressKey);
    const step = await this.#health.attempt("limiter", (send) => lockedForIn(send, call));
    return step.ok ? step.value : undefined;
  }

  #call(clientKey: string, addressKey: string): AttemptCall {
    return { keys: this.#keys, policy: this.#policy, now: this.#clock(), clientKey, addressKey };
  }

  /** The refusal for Redis's lockouts (capped by the policy), each also kept locally. */
  #keep(clientKey: string, addressKey: string, clientMs: number, addressMs: number): Refusal | undefined {
    // Never longer than the policy allows, whatever a record in Redis says.
    const maxMs = this.#policy.maxSeconds * 1000;
    const now = this.#clock();
    const client = Math.min(clientMs, maxMs);
    const address = Math.min(addressMs, maxMs);
    if (client > 0) this.#local.holdLockout("client", clientKey, now + client);
    if (address > 0) this.#local.holdLockout("address", addressKey, now + address);
    return lockRefusal(seconds(client), seconds(address));
  }

  #clearAt(subject: string, now: number): boolean {
    const since = this.#recentlyClear.get(subject);
    return since !== undefined && now - since < CLEAR_REUSE_MS;
  }

  #forget(clientKey: string, addressKey: string): void {
    this.#recentlyClear.delete(`c:${clientKey}`);
    this.#recentlyClear.delete(`a:${addressKey}`);
  }

  #reservation(
    clientKey: string,
    addressKey: string,
    id: string,
    local: LocalReservation,
  ): AttemptReservation {
    let settled = false;
    const settle = async (outcome: Outcome): Promise<void> => {
      if (settled) return;
      settled = true;
      const lockedLocally = local.settle(outcome);
      // This replica's own failure may have locked the pair: ask Redis again next time.
      if (outcome === "failure") this.#forget(clientKey, addressKey);
      const lockedShared = await this.#settleShared(clientKey, addressKey, id, outcome);
      // One report per lockout: Redis's when it answered (it counts every replica's guesses).
      for (const subject of lockedShared ?? lockedLocally) this.#onLockout?.(subject);
    };
    return {
      succeeded: () => settle("success"),
      failed: () => settle("failure"),
      released: () => settle("release"),
    };
  }

  /** Applies an attempt's outcome in Redis: the subjects it locked out, or undefined without an answer. */
  async #settleShared(
    clientKey: string,
    addressKey: string,
    id: string,
    outcome: Outcome,
  ): Promise<LockoutSubject[] | undefined> {
    const call = { ...this.#call(clientKey, addressKey), id, outcome, maxSubjects: this.#maxSubjects };
    const step = await this.#health.attempt("limiter", (send) => settleIn(send, call));
    if (step.ok) return step.value;
    // Owed again until it lands (settle-retries.ts). A failure is owed as a release: it frees the
    // place, and cannot count twice should the first settle have run after all (this replica's own
    // count keeps it).
    if (step.reason !== "refused")
      this.#owed.add(id, { clientKey, addressKey, outcome: outcome === "success" ? "success" : "release" });
    return undefined;
  }
}

function stricter(local: Refusal | undefined, shared: Refusal | undefined): Refusal | undefined {
  if (local === undefined) return shared;
  return shared === undefined || local.retryAfterSeconds >= shared.retryAfterSeconds ? local : shared;
}

// The whole seconds a lockout of `ms` is reported as (lockedSeconds()'s rounding), undefined when none.
function seconds(ms: number): number | undefined {
  return ms > 0 ? Math.max(1, Math.ceil(ms / 1000)) : undefined;
}
