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
