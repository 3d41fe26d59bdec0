import type { Credentials, IssuedToken } from "./types.js";

/** How a cached or fetched token reached the caller. */
export type TokenSource = "cache" | "upstream" | "joined";

export interface ObtainRequest {
  /** The derived credential key (never the credentials in clear). */
  readonly key: string;
  /** Needed by stores that encrypt under a key derived from the caller's own credentials. */
  readonly credentials: Credentials;
  /** Skip the stored token (still single-flight with concurrent fetches). */
  readonly forceRefresh: boolean;
  /** Whether a stored token is fresh enough for this caller. */
  isUsable(token: IssuedToken): boolean;
  /** Fetches a new token from the upstream; called at most once across concurrent callers. */
  fetch(): Promise<IssuedToken>;
}

export interface ObtainResult {
  readonly token: IssuedToken;
  readonly source: TokenSource;
}

/**
 * The token cache and its single-flight behind one interface: the in-memory store is the default;
 * a shared store (Redis) takes its place without touching resolvers or the token service.
 */
export interface TokenCache {
  obtain(request: ObtainRequest): Promise<ObtainResult>;
  /** Entries currently held (for metrics and the memory benchmark). */
  size(): number;
  /** Stops timers and connections. */
  close(): Promise<void>;
}
