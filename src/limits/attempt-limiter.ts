/**
 * Brute-force accounting for upstream attempts with unverified credentials, per clientId and per
 * client address. The in-memory limiter is the default; a shared one (Redis) implements the same
 * interface so replicas add up. Known-good credentials never reach it (see CredentialGate).
 */

/** What a lockout is counted against. */
export type LockoutSubject = "client" | "address";

/** Called when a subject becomes locked out (metrics count lockouts). */
export type LockoutListener = (subject: LockoutSubject) => void;

/**
 * Why an attempt was refused: a subject is locked out, or its attempts in flight plus its failures
 * already fill its budget ("busy": the caller waits a second for them to settle), or all unverified
 * attempts in flight plus the last second's failures fill the service's guess budget ("global_busy",
 * see GuessBudget). A shared limiter that cannot answer never refuses: its replica's own counts decide.
 */
export type RefusalReason =
  | "client_locked"
  | "address_locked"
  | "client_busy"
  | "address_busy"
  | "global_busy";

/** A refused attempt: how long to wait, and why (a metric label, never shown to the caller). */
export interface Refusal {
  readonly retryAfterSeconds: number;
  readonly reason: RefusalReason;
}

/** An attempt allowed to reach the upstream; report exactly one outcome. */
export interface AttemptReservation {
  /** The credentials were right: the counts for this clientId start over, its guess slot is free. */
  succeeded(): Promise<void>;
  /** The upstream said invalid_client: one more failure; its guess slot is kept for a second. */
  failed(): Promise<void>;
  /**
   * The attempt proved nothing (upstream down, rate-limited): no failure is counted, but its guess
   * slot is kept for a second, as it may have reached Aspose.
   */
  released(): Promise<void>;
}

/** Either a reservation, or why not and the seconds the caller must wait. */
export type ReserveResult =
  | { readonly allowed: true; readonly reservation: AttemptReservation }
  | ({ readonly allowed: false } & Refusal);

export interface AttemptLimiter {
  /** The longer lockout of the two subjects, or undefined when neither is locked. */
  lockedFor(clientKey: string, addressKey: string): Promise<Refusal | undefined>;
  /**
   * Reserves an upstream attempt. Attempts in flight count at once, for the clientId and for the
   * address alike, and in the guess budget that all unverified attempts share, so a concurrent burst
   * cannot slip past any of them.
   */
  reserve(clientKey: string, addressKey: string): Promise<ReserveResult>;
  /** Stops timers and connections. */
  close(): Promise<void>;
}

// Attempts in flight already fill a budget: the caller waits briefly for them to settle.
export const BUSY_RETRY_SECONDS = 1;

/** The guess budget is full: the caller waits a second, when the oldest failure stops counting. */
export const GLOBAL_BUSY: Refusal = { retryAfterSeconds: BUSY_RETRY_SECONDS, reason: "global_busy" };

export interface LockoutPolicy {
  /** Failures within the window that lock a clientId. */
  readonly threshold: number;
  /** Failures within the window that lock an address (higher: one address may front many users). */
  readonly addressThreshold: number;
  readonly windowSeconds: number;
  /** The first lockout; each further one doubles, up to maxSeconds. */
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  /** Unverified attempts in flight plus failures within the last second, whatever their subjects. */
  readonly guessesPerSecond: number;
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

/**
 * The refusal for two subjects' lockouts (seconds each, or undefined): the longer one, the clientId's
 * on a tie. Both limiters answer with this, so they agree on the reason too.
 */
export function lockRefusal(client: number | undefined, address: number | undefined): Refusal | undefined {
  if (address !== undefined && (client === undefined || address > client)) {
    return { retryAfterSeconds: address, reason: "address_locked" };
  }
  return client === undefined ? undefined : { retryAfterSeconds: client, reason: "client_locked" };
}

/**
 * Whether another attempt fits the budgets: failures plus attempts in flight stay below each
 * subject's threshold. Counted from the first request for the address too: a burst from a clean
 * address would otherwise all be in flight before its first failure came back.
 */
export function busyRefusal(
  client: { readonly failures: number; readonly pending: number },
  address: { readonly failures: number; readonly pending: number },
  policy: LockoutPolicy,
): Refusal | undefined {
  if (client.failures + client.pending >= policy.threshold) {
    return { retryAfterSeconds: BUSY_RETRY_SECONDS, reason: "client_busy" };
  }
  if (address.failures + address.pending >= policy.addressThreshold) {
    return { retryAfterSeconds: BUSY_RETRY_SECONDS, reason: "address_busy" };
  }
  return undefined;
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
