/**
 * What the token service needs from the outside world, and nothing more: an issuer that exchanges a
 * credential for a token (the Aspose connector), and a store of issued tokens (memory or shared).
 * Adapters implement these; the service never imports an adapter.
 */
import type { ServiceError } from "../errors.js";
import type { Credential } from "./credential.js";
import type { IssuedToken } from "./types.js";

/** Exchanges a credential for a new token upstream; rejects with coded ServiceErrors. */
export interface TokenIssuer {
  issue(credential: Credential): Promise<IssuedToken>;
  /**
   * The error a call for this credential would get without reaching Aspose (a pair in its cool-down,
   * an open circuit), or undefined: asked before an attempt is reserved, since such a call is no guess
   * and must hold no slot of the guess budget. A decorator asks its inner issuer when it has none.
   */
  refusal?(credential: Credential): Promise<ServiceError | undefined>;
}

/** A stored token and the version it was stored as (to tell a newer write apart). */
export interface StoredToken {
  readonly token: IssuedToken;
  readonly version: string;
}

/**
 * The right to fetch for a credential across replicas: granted (release it once the new token is
 * stored, or the fetch failed), a token another replica stored since `seen`, or held by another
 * replica's fetch (look again shortly).
 */
export type FetchClaim =
  | { readonly kind: "granted"; release(): Promise<void> }
  | { readonly kind: "stored"; readonly stored: StoredToken }
  | { readonly kind: "held" };

/**
 * A plain store of issued tokens under each credential's lookup key; entries expire with their token.
 * It decides nothing about freshness: the token service does.
 */
export interface TokenStore {
  get(credential: Credential): Promise<StoredToken | undefined>;
  /** Stores a token until it expires (`ttlMs` from now). */
  put(credential: Credential, token: IssuedToken, ttlMs: number): Promise<void>;
  delete(credential: Credential): Promise<void>;
  /** Claims the fetch for this credential; `seen` is the entry this caller could not use. */
  claim(credential: Credential, seen: StoredToken | undefined): Promise<FetchClaim>;
  /** Entries held in this process (the token_cache_entries gauge). */
  size(): number;
  close(): Promise<void>;
}
