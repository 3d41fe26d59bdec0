import { LRUCache } from "lru-cache";
import type { Clock } from "../tokens/types.js";
import {
  type AttemptLimiter,
  type LockoutPolicy,
  lockedSeconds,
  newSubjectState,
  type ReserveResult,
  recordFailure,
  type SubjectState,
} from "./attempt-limiter.js";

/** Called when a subject becomes locked out (metrics count lockouts). */
export type LockoutListener = (subject: "client" | "address") => void;

// Attempts in flight already reach the threshold: the caller waits briefly for them to settle.
const PENDING_RETRY_SECONDS = 1;

/** The default, process-local limiter; memory bounded by an LRU of subjects. */
export class MemoryAttemptLimiter implements AttemptLimiter {
  readonly #subjects: LRUCache<string, SubjectState>;
  readonly #policy: LockoutPolicy;
  readonly #clock: Clock;
  readonly #onLockout: LockoutListener | undefined;

  constructor(policy: LockoutPolicy, clock: Clock, onLockout?: LockoutListener, maxSubjects = 100_000) {
    this.#policy = policy;
    this.#clock = clock;
    this.#onLockout = onLockout;
    this.#subjects = new LRUCache({ max: maxSubjects });
  }

  async lockedFor(clientKey: string, addressKey: string): Promise<number | undefined> {
    const now = this.#clock();
    const client = this.#subjects.get(`c:${clientKey}`);
    const address = this.#subjects.get(`a:${addressKey}`);
    const clientLock = client === undefined ? undefined : lockedSeconds(client, now, this.#policy);
    const addressLock = address === undefined ? undefined : lockedSeconds(address, now, this.#policy);
    if (clientLock === undefined) return addressLock;
    return addressLock === undefined ? clientLock : Math.max(clientLock, addressLock);
  }

  async reserve(clientKey: string, addressKey: string): Promise<ReserveResult> {
    const locked = await this.lockedFor(clientKey, addressKey);
    if (locked !== undefined) return { allowed: false, retryAfterSeconds: locked };
    const client = this.#subject(`c:${clientKey}`);
    const address = this.#subject(`a:${addressKey}`);
    if (
      client.failures + client.pending >= this.#policy.threshold ||
      address.failures + address.pending >= this.#policy.addressThreshold
    ) {
      return { allowed: false, retryAfterSeconds: PENDING_RETRY_SECONDS };
    }
    client.pending += 1;
    address.pending += 1;
    let settled = false;
    const settle = (outcome: "success" | "failure" | "release"): void => {
      if (settled) return;
      settled = true;
      client.pending = Math.max(0, client.pending - 1);
      address.pending = Math.max(0, address.pending - 1);
      const now = this.#clock();
      if (outcome === "success") {
        this.#reset(`c:${clientKey}`, client);
        this.#reset(`a:${addressKey}`, address);
      } else if (outcome === "failure") {
        if (recordFailure(client, now, this.#policy.threshold, this.#policy)) this.#onLockout?.("client");
        if (recordFailure(address, now, this.#policy.addressThreshold, this.#policy))
          this.#onLockout?.("address");
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

  async close(): Promise<void> {
    this.#subjects.clear();
  }

  #subject(key: string): SubjectState {
    let state = this.#subjects.get(key);
    if (state === undefined) {
      state = newSubjectState();
      this.#subjects.set(key, state);
    }
    return state;
  }

  #reset(key: string, state: SubjectState): void {
    if (state.pending === 0) this.#subjects.delete(key);
    else Object.assign(state, newSubjectState(), { pending: state.pending });
  }
}
