import type { Credential } from "./credential.js";
import type { RejectedToken } from "./rejected-token.js";

/** A token as Aspose issued it, with its validity anchored to the moment this service asked for it. */
export interface IssuedToken {
  /** The token exactly as Aspose issued it. */
  readonly accessToken: string;
  readonly tokenType: string;
  /** Epoch ms when the upstream request was sent: validity is counted from here, never from the answer. */
  readonly issuedAtMs: number;
  /** Epoch ms when the token stops being valid: issuedAtMs + expires_in, capped by the JWT `exp`. */
  readonly expiresAtMs: number;
  /** From the JWT `scope` claim; informational, the signature cannot be verified. */
  readonly scopes: readonly string[];
  /** From the JWT `client_default_storage` claim; informational. */
  readonly defaultStorage: string | null;
}

/**
 * How a token reached the caller: the store, this caller's own upstream call, another caller's, or the
 * store after a refresh failed upstream (stale-if-error: still valid, but due for replacement).
 */
export type TokenSource = "cache" | "upstream" | "joined" | "stale";

/** What the `AccessToken` GraphQL type resolves from: a token plus how and when it was served. */
export interface ServedToken {
  readonly token: IssuedToken;
  readonly source: TokenSource;
  /** Epoch ms when this answer was made; `expiresIn` counts from here. */
  readonly servedAtMs: number;
}

/** One `accessToken` request: the credential handle plus the caller's freshness needs. */
export interface TokenRequest {
  readonly credential: Credential;
  /** Seconds the token must stay valid; 0 when the caller did not ask. */
  readonly minValiditySeconds: number;
  readonly forceRefresh: boolean;
  /** The token Aspose refused this caller, when it says so: replaced if it is the cached one. */
  readonly rejectedToken?: RejectedToken;
}

/** Who is asking: the key of the client address the brute-force accounting counts against. */
export interface Caller {
  readonly addressKey: string;
  /** The request and the address (as the edge computed it) it came from, for the audit trail. */
  readonly requestId?: string;
  readonly clientAddress?: string;
}

/** What the per-request context needs of the token service. */
export interface TokenProvider {
  issue(request: TokenRequest, caller: Caller): Promise<ServedToken>;
}

/** A millisecond clock; injected so tests control time instead of sleeping. */
export type Clock = () => number;

/**
 * The upstream circuit. closed: calls pass; open: refused at once until the cool-down ends;
 * half-open: one probe passes. (Here rather than beside the breaker, so the edge can name it without
 * importing the breaker and, through it, the error catalogue.)
 */
export type CircuitState = "closed" | "open" | "half-open";
