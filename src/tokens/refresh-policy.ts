import type { IssuedToken } from "./types.js";

export interface RefreshMargin {
  /** The margin is never less than this many seconds. */
  readonly minSeconds: number;
  /** ...nor less than this share of the token's lifetime. */
  readonly ratio: number;
}

/**
 * Whether a stored token may still be served at `now`: its remaining validity must cover both the
 * refresh margin (max(minSeconds, ratio × lifetime)) and what the caller asked for, as far as any
 * token of this lifetime could.
 */
export function isUsable(
  token: IssuedToken,
  now: number,
  margin: RefreshMargin,
  minValiditySeconds: number,
): boolean {
  const lifetimeMs = token.expiresAtMs - token.issuedAtMs;
  const marginMs = Math.max(margin.minSeconds * 1000, margin.ratio * lifetimeMs);
  const remainingMs = token.expiresAtMs - now;
  // A caller may ask for more validity than Aspose ever issues. Refetching on every request would
  // not help (a fresh token cannot last longer) and would turn one caller into an upstream flood, so
  // such a request is satisfied by a token still within its first refresh margin of life.
  const askedMs = Math.min(minValiditySeconds * 1000, lifetimeMs - marginMs);
  // A JWT is invalid from its exp on (RFC 7519 4.1.4), so with a zero margin the last usable instant
  // is one millisecond before expiry, never expiry itself.
  return remainingMs > 0 && remainingMs >= Math.max(marginMs, askedMs);
}

/** When a stored token is replaced: the hard margin, and the earlier refresh-ahead window. */
export interface RefreshPolicy {
  /** Inside this margin a token is not served when a fresh one can be had (the caller waits). */
  readonly margin: RefreshMargin;
  /** Inside this window a token is served at once and one background refresh starts. */
  readonly ahead: RefreshMargin;
}

/** What to do with a stored token for one caller. */
export type Freshness = "fresh" | "refresh-ahead" | "expiring";

/**
 * `fresh`: serve it. `refresh-ahead`: serve it, and refresh in the background, because less than
 * max(ahead.minSeconds, ahead.ratio × lifetime) remains. `expiring`: not servable to this caller while a
 * fresh token can be had (inside the hard margin, or short of the caller's minValidity).
 */
export function freshness(
  token: IssuedToken,
  now: number,
  policy: RefreshPolicy,
  minValiditySeconds: number,
): Freshness {
  if (!isUsable(token, now, policy.margin, minValiditySeconds)) return "expiring";
  const lifetimeMs = token.expiresAtMs - token.issuedAtMs;
  const aheadMs = Math.max(policy.ahead.minSeconds * 1000, policy.ahead.ratio * lifetimeMs);
  return token.expiresAtMs - now < aheadMs ? "refresh-ahead" : "fresh";
}

/**
 * Whether a stored token may still be served when a refresh failed upstream (stale-if-error): it is
 * valid now and for what the caller asked, the refresh margin set aside.
 */
export function servableStale(token: IssuedToken, now: number, minValiditySeconds: number): boolean {
  return isUsable(token, now, { minSeconds: 0, ratio: 0 }, minValiditySeconds);
}
