/**
 * Brute-force accounting for credential attempts, per clientId and per client address. The in-memory
 * limiter is the default; a shared one (Redis) implements the same interface so replicas add up.
 */

/** What a lockout is counted against. */
export type LockoutSubject = "client" | "address";

/** Called when a subject becomes locked out (metrics count lockouts). */
export type LockoutListener = (subject: LockoutSubject) => void;

/** An attempt allowed to reach the upstream; report exactly one outcome. */
export interface AttemptReservation {
  /** The credentials were right: the counts for this clientId and address start over. */
  succeeded(): Promise<void>;
  /** The upstream said invalid_client: one more failure. */
  failed(): Promise<void>;
  /** The attempt proved nothing (upstream down, rate-limited): forget it. */
  released(): Promise<void>;
}

/** Either a reservation, or the seconds the caller must wait. */
export type ReserveResult =
  | { readonly allowed: true; readonly reservation: AttemptReservation }
  | { readonly allowed: false; readonly retryAfterSeconds: number };

export interface AttemptLimiter {
  /** Seconds left of a lockout for either subject, or undefined when neither is locked. */
  lockedFor(clientKey: string, addressKey: string): Promise<number | undefined>;
  /** Reserves an upstream attempt; attempts in flight count, so a concurrent burst cannot slip past. */
  reserve(clientKey: string, addressKey: string): Promise<ReserveResult>;
  /** Stops timers and connections. */
  close(): Promise<void>;
}

export interface LockoutPolicy {
  /** Failures within the window that lock a clientId. */
  readonly threshold: number;
  /** Failures within the window that lock an address (higher: one address may front many users). */
  readonly addressThreshold: number;
  readonly windowSeconds: number;
  /** The first lockout; each further one doubles, up to maxSeconds. */
  readonly baseSeconds: number;
  readonly maxSeconds: number;
}

/** The lockout policy from the configuration; one address may front many users, so it gets 4×. */
export function lockoutPolicy(lockout: Omit<LockoutPolicy, "addressThreshold">): LockoutPolicy {
  return { ...lockout, addressThreshold: lockout.threshold * 4 };
}

/** A subject's counters; shared by the in-memory and Redis limiters. */
export interface SubjectState {
  failures: number;
  /** Epoch ms of the last failure; counts older than the window are forgotten. */
  lastFailureMs: number;
  lockedUntilMs: number;
  /** Lockouts so far within the window: each doubles the next one. */
  strikes: number;
}

/** A fresh subject. */
export function newSubjectState(): SubjectState {
  return { failures: 0, lastFailureMs: 0, lockedUntilMs: 0, strikes: 0 };
}

/** Seconds a subject is locked at `now`, after forgetting what the window has let go. */
export function lockedSeconds(state: SubjectState, now: number, policy: LockoutPolicy): number | undefined {
  if (state.lockedUntilMs > now) return Math.max(1, Math.ceil((state.lockedUntilMs - now) / 1000));
  if (state.lastFailureMs > 0 && now - state.lastFailureMs > policy.windowSeconds * 1000) {
    // The window is bounded so the legitimate owner is never locked out for long.
    state.failures = 0;
    state.strikes = 0;
  }
  return undefined;
}

/** Records a failure; returns true when it started a lockout. */
export function recordFailure(
  state: SubjectState,
  now: number,
  threshold: number,
  policy: LockoutPolicy,
): boolean {
  state.failures += 1;
  state.lastFailureMs = now;
  if (state.failures < threshold) return false;
  state.strikes += 1;
  state.failures = 0;
  const seconds = Math.min(policy.baseSeconds * 2 ** (state.strikes - 1), policy.maxSeconds);
  state.lockedUntilMs = now + seconds * 1000;
  return true;
}
