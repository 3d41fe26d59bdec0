import type { IssuedToken } from "./types.js";

export interface RefreshMargin {
  /** The margin is never less than this many seconds (up to its share cap, below)... */
  readonly minSeconds: number;
  /** ...nor less than this share of the token's lifetime. */
  readonly ratio: number;
}

/**
 * The most of a token's lifetime the hard margin may take, whatever the configuration says. Past it, a
 * short-lived token (Aspose may issue 10 s ones, self-hosted containers their own) would be inside the
 * margin from birth and refetched on every request; with it, a token is served for three quarters of
 * its life at least.
 */
export const MARGIN_MAX_SHARE = 0.25;
/**
 * The most of a token's lifetime the refresh-ahead window may take. A token is then served as fresh for
 * its first half at least, so each credential is refreshed at most once per half-lifetime however short
 * the lifetime, and the background refresh still gets the quarter between the two caps to succeed in.
 */
export const AHEAD_MAX_SHARE = 0.5;

/** max(minSeconds, ratio × lifetime), never more than `maxShare` of the lifetime, in ms. */
export function windowMs(window: RefreshMargin, lifetimeMs: number, maxShare: number): number {
  return Math.min(Math.max(window.minSeconds * 1000, window.ratio * lifetimeMs), maxShare * lifetimeMs);
}

/**
 * Whether a stored token may still be served at `now`: its remaining validity must cover both the
 * refresh margin (max(minSeconds, ratio × lifetime), at most MARGIN_MAX_SHARE of it) and what the
 * caller asked for, as far as any token of this lifetime could.
 */
export function isUsable(
  token: IssuedToken,
  now: number,
  margin: RefreshMargin,
  minValiditySeconds: number,
): boolean {
  const lifetimeMs = token.expiresAtMs - token.issuedAtMs;
  const marginMs = windowMs(margin, lifetimeMs, MARGIN_MAX_SHARE);
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
 * max(ahead.minSeconds, ahead.ratio × lifetime), at most AHEAD_MAX_SHARE of it, remains. `expiring`:
 * not servable to this caller while a fresh token can be had (inside the hard margin, or short of the
 * caller's minValidity).
 */
export function freshness(
  token: IssuedToken,
  now: number,
  policy: RefreshPolicy,
  minValiditySeconds: number,
): Freshness {
  if (!isUsable(token, now, policy.margin, minValiditySeconds)) return "expiring";
  const lifetimeMs = token.expiresAtMs - token.issuedAtMs;
  const aheadMs = windowMs(policy.ahead, lifetimeMs, AHEAD_MAX_SHARE);
  return token.expiresAtMs - now < aheadMs ? "refresh-ahead" : "fresh";
}

/**
 * Whether a stored token may still be served when a refresh failed upstream (stale-if-error): it is
 * valid now and for what the caller asked, the refresh margin set aside.
 */
export function servableStale(token: IssuedToken, now: number, minValiditySeconds: number): boolean {
  return isUsable(token, now, { minSeconds: 0, ratio: 0 }, minValiditySeconds);
}

// After a failed background refresh, the next one for that credential waits a tenth of the token's
// lifetime (at least a second, at most a minute): an outage costs Aspose a few calls per token, not
// one per request, while a short blip is still retried well before the hard margin.
const RETRY_AHEAD_SHARE = 0.1;
const RETRY_AHEAD_MIN_MS = 1_000;
const RETRY_AHEAD_MAX_MS = 60_000;

/** How long after a failed background refresh of `token` the next one may start. */
export function retryAheadDelayMs(token: IssuedToken): number {
  const lifetimeMs = token.expiresAtMs - token.issuedAtMs;
  return Math.min(RETRY_AHEAD_MAX_MS, Math.max(RETRY_AHEAD_MIN_MS, lifetimeMs * RETRY_AHEAD_SHARE));
}
