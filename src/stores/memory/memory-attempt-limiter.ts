import { LRUCache } from "lru-cache";
import {
  type AttemptLimiter,
  busyRefusal,
  type LockoutListener,
  type LockoutPolicy,
  lockedSeconds,
  lockRefusal,
  newSubjectState,
  type Refusal,
  type ReserveResult,
  recordFailure,
  type SubjectState,
} from "../../limits/attempt-limiter.js";
import type { Clock } from "../../tokens/types.js";

/** The default, process-local limiter; memory bounded by an LRU of subjects. */
export class MemoryAttemptLimiter implements AttemptLimiter {
  // Only subjects with failures live here; a quiet service keeps it empty (and never pays for
  // lru-cache clearing its preallocated slots when the last entry goes).
  readonly #subjects: LRUCache<string, SubjectState>;
  /** Upstream attempts in flight per client key (and `a:` address key); entries are deleted at zero. */
  readonly #pending = new Map<string, number>();
  readonly #policy: LockoutPolicy;
  readonly #clock: Clock;
  readonly #onLockout: LockoutListener | undefined;

  constructor(policy: LockoutPolicy, clock: Clock, onLockout?: LockoutListener, maxSubjects = 100_000) {
    this.#policy = policy;
    this.#clock = clock;
    this.#onLockout = onLockout;
    this.#subjects = new LRUCache({ max: maxSubjects });
  }

  async lockedFor(clientKey: string, addressKey: string): Promise<Refusal | undefined> {
    const now = this.#clock();
    const client = this.#subjects.get(`c:${clientKey}`);
    const address = this.#subjects.get(`a:${addressKey}`);
    return lockRefusal(
      client === undefined ? undefined : lockedSeconds(client, now, this.#policy),
      address === undefined ? undefined : lockedSeconds(address, now, this.#policy),
    );
  }

  async reserve(clientKey: string, addressKey: string): Promise<ReserveResult> {
    const locked = await this.lockedFor(clientKey, addressKey);
    if (locked !== undefined) return { allowed: false, ...locked };
    const pending = this.#pending.get(clientKey) ?? 0;
    const addressPending = this.#pending.get(`a:${addressKey}`) ?? 0;
    const busy = busyRefusal(
      { failures: this.#subjects.get(`c:${clientKey}`)?.failures ?? 0, pending },
      { failures: this.#subjects.get(`a:${addressKey}`)?.failures ?? 0, pending: addressPending },
      this.#policy,
    );
    if (busy !== undefined) return { allowed: false, ...busy };
    this.#pending.set(clientKey, pending + 1);
    this.#pending.set(`a:${addressKey}`, addressPending + 1);
    let settled = false;
    const settle = (outcome: "success" | "failure" | "release"): void => {
      if (settled) return;
      settled = true;
      this.#release(clientKey);
      this.#release(`a:${addressKey}`);
      if (outcome === "success") {
        // Only the clientId starts over: an attacker holding one valid account must not be able to
        // clear the address count between guesses at other clients.
        this.#subjects.delete(`c:${clientKey}`);
      } else if (outcome === "failure") {
        const now = this.#clock();
        if (recordFailure(this.#subject(`c:${clientKey}`), now, this.#policy.threshold, this.#policy)) {
          this.#onLockout?.("client");
        }
        if (
          recordFailure(this.#subject(`a:${addressKey}`), now, this.#policy.addressThreshold, this.#policy)
        ) {
          this.#onLockout?.("address");
        }
      }
    };
    return {
      allowed: true,
      reservation: {
        succeeded: async () => settle("success"),
        failed: async () => settle("failure"),
        released: async () => settle("release"),
      },
    };
  }

  /**
   * Counts an attempt as in flight without checking any budget, until the returned release is called.
   * The Redis limiter holds its shared reservations here too, so when Redis goes down mid-burst the
   * fallback's budget already includes this replica's attempts in flight instead of starting afresh.
   */
  hold(clientKey: string, addressKey: string): () => void {
    this.#pending.set(clientKey, (this.#pending.get(clientKey) ?? 0) + 1);
    this.#pending.set(`a:${addressKey}`, (this.#pending.get(`a:${addressKey}`) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#release(clientKey);
      this.#release(`a:${addressKey}`);
    };
  }

  async close(): Promise<void> {
    this.#subjects.clear();
    this.#pending.clear();
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
