import { LRUCache } from "lru-cache";
import {
  type AttemptLimiter,
  busyRefusal,
  GLOBAL_BUSY,
  type LockoutListener,
  type LockoutPolicy,
  type LockoutSubject,
  lockedSeconds,
  lockRefusal,
  newSubjectState,
  type Refusal,
  type ReserveResult,
  recordFailure,
  type SubjectState,
} from "../../limits/attempt-limiter.js";
import { GuessBudget } from "../../limits/guess-budget.js";
import type { Clock } from "../../tokens/types.js";

/** How a reservation ends. */
export type Outcome = "success" | "failure" | "release";

/** A reservation held locally: settle it once; it returns the subjects the outcome locked out. */
export interface LocalReservation {
  readonly allowed: true;
  settle(outcome: Outcome): LockoutSubject[];
  /** The attempt was never made (the shared store refused it): as if it had not been reserved. */
  cancel(): void;
}

/** The default, process-local limiter; memory bounded by an LRU of subjects. */
export class MemoryAttemptLimiter implements AttemptLimiter {
  // Only subjects with failures live here; a quiet service keeps it empty (and never pays for
  // lru-cache clearing its preallocated slots when the last entry goes).
  readonly #subjects: LRUCache<string, SubjectState>;
  /** Upstream attempts in flight per client key (and `a:` address key); entries are deleted at zero. */
  readonly #pending = new Map<string, number>();
  readonly #policy: LockoutPolicy;
  readonly #budget: GuessBudget;
  readonly #clock: Clock;
  readonly #onLockout: LockoutListener | undefined;

  constructor(policy: LockoutPolicy, clock: Clock, onLockout?: LockoutListener, maxSubjects = 100_000) {
    this.#policy = policy;
    this.#budget = new GuessBudget(policy.guessesPerSecond);
    this.#clock = clock;
    this.#onLockout = onLockout;
    this.#subjects = new LRUCache({ max: maxSubjects });
  }

  async lockedFor(clientKey: string, addressKey: string): Promise<Refusal | undefined> {
    return this.#lockedAt(clientKey, addressKey, this.#clock());
  }

  async reserve(clientKey: string, addressKey: string): Promise<ReserveResult> {
    const reserved = this.reserveLocally(clientKey, addressKey);
    if (!reserved.allowed) return reserved;
    const report = (outcome: Outcome): void => {
      for (const subject of reserved.settle(outcome)) this.#onLockout?.(subject);
    };
    return {
      allowed: true,
      reservation: {
        succeeded: async () => report("success"),
        failed: async () => report("failure"),
        released: async () => report("release"),
      },
    };
  }

  /**
   * reserve() without reporting lockouts: the settle returns the subjects its outcome locked out. The
   * shared limiter keeps this replica's counts with it beside Redis's, and reports lockouts itself.
   */
  reserveLocally(clientKey: string, addressKey: string): LocalReservation | ({ allowed: false } & Refusal) {
    const locked = this.#lockedAt(clientKey, addressKey, this.#clock());
    if (locked !== undefined) return { allowed: false, ...locked };
    const pending = this.#pending.get(clientKey) ?? 0;
    const addressPending = this.#pending.get(`a:${addressKey}`) ?? 0;
    const busy = busyRefusal(
      { failures: this.#subjects.get(`c:${clientKey}`)?.failures ?? 0, pending },
      { failures: this.#subjects.get(`a:${addressKey}`)?.failures ?? 0, pending: addressPending },
      this.#policy,
    );
    if (busy !== undefined) return { allowed: false, ...busy };
    if (!this.#budget.take(this.#clock())) return { allowed: false, ...GLOBAL_BUSY };
    this.#pending.set(clientKey, pending + 1);
    this.#pending.set(`a:${addressKey}`, addressPending + 1);
    let settled = false;
    const end = (): boolean => {
      if (settled) return false;
      settled = true;
      this.#release(clientKey);
      this.#release(`a:${addressKey}`);
      return true;
    };
    const cancel = (): void => {
      if (end()) this.#budget.settle(false, this.#clock());
    };
    const settle = (outcome: Outcome): LockoutSubject[] => {
      if (!end()) return [];
      // Only an accepted attempt gives its guess slot back at once: a failed one reached Aspose, and
      // an inconclusive one (timed out, rate-limited, refused by the breaker) may have.
      this.#budget.settle(outcome !== "success", this.#clock());
      if (outcome === "success") {
        // Only the clientId starts over: an attacker holding one valid account must not be able to
        // clear the address count between guesses at other clients.
        this.#subjects.delete(`c:${clientKey}`);
        return [];
      }
      if (outcome !== "failure") return [];
      const now = this.#clock();
      const started: LockoutSubject[] = [];
      if (recordFailure(this.#subject(`c:${clientKey}`), now, this.#policy.threshold, this.#policy))
        started.push("client");
      if (recordFailure(this.#subject(`a:${addressKey}`), now, this.#policy.addressThreshold, this.#policy))
        started.push("address");
      return started;
    };
    return { allowed: true, settle, cancel };
  }

  /**
   * Keeps a lockout the shared store reported (other replicas' guesses count in it), so this replica
   * still enforces it should the store lose it: an outage, an eviction, a dead shard.
   */
  holdLockout(subject: LockoutSubject, key: string, untilMs: number): void {
    const state = this.#subject(subject === "client" ? `c:${key}` : `a:${key}`);
    if (untilMs > state.lockedUntilMs) state.lockedUntilMs = untilMs;
  }

  async close(): Promise<void> {
    this.#subjects.clear();
    this.#pending.clear();
  }

  #lockedAt(clientKey: string, addressKey: string, now: number): Refusal | undefined {
    const client = this.#subjects.get(`c:${clientKey}`);
    const address = this.#subjects.get(`a:${addressKey}`);
    return lockRefusal(
      client === undefined ? undefined : lockedSeconds(client, now, this.#policy),
      address === undefined ? undefined : lockedSeconds(address, now, this.#policy),
    );
  }

  #release(key: string): void {
    const left = (this.#pending.get(key) ?? 1) - 1;
    if (left > 0) this.#pending.set(key, left);
    else this.#pending.delete(key);
  }

  #subject(key: string): SubjectState {
    let state = this.#subjects.get(key);
    if (state === undefined) {
      state = newSubjectState();
      this.#subjects.set(key, state);
    }
    return state;
  }
}
