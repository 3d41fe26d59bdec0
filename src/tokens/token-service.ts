import { LRUCache } from "lru-cache";
import { isUpstreamFault, ServiceCode, ServiceError, tooManyAttempts } from "../errors.js";
import type { CredentialGate } from "../limits/credential-gate.js";
import { fetchUnderClaim } from "./fetch-claim.js";
import type { StoredToken, TokenIssuer, TokenStore } from "./ports.js";
import {
  freshness,
  isUsable,
  type RefreshPolicy,
  retryAheadDelayMs,
  servableStale,
} from "./refresh-policy.js";
import { SingleFlight } from "./single-flight.js";
import type {
  Caller,
  Clock,
  IssuedToken,
  ServedToken,
  TokenProvider,
  TokenRequest,
  TokenSource,
} from "./types.js";

/** How a background refresh ended. */
export type RefreshAheadOutcome = "refreshed" | "failed" | "rejected";

export interface TokenServiceDependencies {
  readonly issuer: TokenIssuer;
  readonly store: TokenStore;
  /** The brute-force defence: lockouts for unverified credentials, a pass for known-good ones. */
  readonly gate: CredentialGate;
  /** A forced refresh this soon after the stored token was fetched returns it (0: no bound). */
  readonly forceRefreshMinIntervalMs: number;
  readonly policy: RefreshPolicy;
  readonly clock: Clock;
  /**
   * The longest a caller waits for another replica's fetch (the cross-replica claim's lifetime): it
   * covers a whole upstream call, so a slow holder is not doubled.
   */
  readonly claimWaitMs: number;
  readonly onLookup?: (source: TokenSource) => void;
  /** Called when a fetch starts waiting for another replica's. */
  readonly onClaimWait?: () => void;
  /** Called when a background refresh ends, with the request and caller that started it. */
  readonly onRefreshAhead?: (
    outcome: RefreshAheadOutcome,
    request: TokenRequest,
    caller: Caller,
    error?: unknown,
  ) => void;
}

/**
 * Serves access tokens: the gate, then the store, then one upstream fetch shared by concurrent
 * callers in this process (single flight) and across replicas (the store's fetch claim). The order
 * matters: an unverified credential meets the lockout before the store so that a locked-out clientId
 * cannot keep guessing secrets against stored tokens; a known-good one passes (see CredentialGate).
 * Freshness is decided here, never by a store:
 * - a token in its refresh-ahead window is served at once while one background refresh replaces it;
 * - inside the hard margin the caller waits for a fresh token;
 * - when that refresh fails upstream, a token still valid for the caller is served, marked stale;
 * - when Aspose rejects the credential, the stored token is evicted: that is never ridden out.
 */
export class TokenService implements TokenProvider {
  readonly #deps: TokenServiceDependencies;
  readonly #flights = new SingleFlight<{ token: IssuedToken; source: TokenSource }>();
  /** Per lookup key, when a failed background refresh may be tried again. */
  readonly #retryAheadAt = new LRUCache<string, number>({ max: 10_000 });

  constructor(deps: TokenServiceDependencies) {
    this.#deps = deps;
  }

  /** The token for a validated request, from the store or Aspose; rejects with coded errors. */
  async issue(request: TokenRequest, caller: Caller): Promise<ServedToken> {
    const { store, gate, clock, policy } = this.#deps;
    const { credential } = request;
    // The brute-force gate: known-good credentials pass, others meet the lockouts.
    const refused = await gate.check(credential, caller.addressKey);
    if (refused !== undefined) throw tooManyAttempts(refused.retryAfterSeconds);

    const stored = await store.get(credential);
    if (stored !== undefined) {
      // Aspose refused the cached token: one fetch replaces it for every reporter, here and on other
      // replicas, and it is never served stale; a report of any other token is answered as without it.
      // Hashed only when reported: the hit path compares nothing.
      if (request.rejectedToken?.is(stored.token.accessToken) === true)
        return this.#fetchOnce(request, caller, stored, true);
      const verdict = freshness(stored.token, clock(), policy, request.minValiditySeconds);
      if (request.forceRefresh) {
        // A token fetched moments ago is as fresh as a refetch would be.
        if (verdict !== "expiring" && this.#justFetched(stored.token))
          return this.#served(stored.token, "cache");
      } else {
        if (verdict === "refresh-ahead") this.#refreshAhead(request, caller, stored);
        if (verdict !== "expiring") return this.#served(stored.token, "cache");
      }
    }
    try {
      return await this.#fetchOnce(request, caller, stored);
    } catch (error) {
      // Stale-if-error: Aspose failing is no reason to refuse a token that is still valid for this
      // caller. A forced refresh asked not to be given the stored token, so it gets the error.
      if (
        !request.forceRefresh &&
        stored !== undefined &&
        isUpstreamFault(error) &&
        servableStale(stored.token, clock(), request.minValiditySeconds)
      ) {
        return this.#served(stored.token, "stale");
      }
      throw error;
    }
  }

  /** One fetch per credential in this process (single flight), which concurrent callers join. */
  async #fetchOnce(request: TokenRequest, caller: Caller, seen?: StoredToken, evict = false) {
    const flight = this.#flights.run(request.credential.lookupKey, () =>
      this.#fetchShared(request, caller, seen, evict),
    );
    const result = await flight.promise;
    return this.#served(result.token, flight.leader ? result.source : "joined");
  }

  #served(token: IssuedToken, source: TokenSource): ServedToken {
    this.#deps.onLookup?.(source);
    return { token, source, servedAtMs: this.#deps.clock() };
  }

  /**
   * Starts one background refresh with this request's credentials, unless one is in flight or a failed
   * one is backing off. The caller does not wait for it; its outcome reaches metrics and the audit log.
   */
  #refreshAhead(request: TokenRequest, caller: Caller, stored: StoredToken): void {
    const { credential } = request;
    const now = this.#deps.clock();
    if ((this.#retryAheadAt.get(credential.lookupKey) ?? 0) > now) return;
    if (this.#flights.has(credential.lookupKey)) return;
    const ahead = { ...request, minValiditySeconds: 0, forceRefresh: false };
    const flight = this.#flights.run(credential.lookupKey, () => this.#fetchShared(ahead, caller, stored));
    flight.promise.then(
      () => {
        this.#retryAheadAt.delete(credential.lookupKey);
        this.#deps.onRefreshAhead?.("refreshed", request, caller);
      },
      (error: unknown) => {
        this.#retryAheadAt.set(credential.lookupKey, this.#deps.clock() + retryAheadDelayMs(stored.token));
        this.#deps.onRefreshAhead?.(isUpstreamFault(error) ? "failed" : "rejected", request, caller, error);
      },
    );
  }

  // A token fetched this recently is as fresh as a refetch, so a forced refresh in a loop (or in
  // aliases) cannot pump upstream calls.
  #justFetched(token: IssuedToken): boolean {
    return this.#deps.clock() - token.issuedAtMs < this.#deps.forceRefreshMinIntervalMs;
  }

  /**
   * One fetch across replicas; `seen` is the entry this caller saw and is replacing. With `evict` the
   * claim's holder deletes it first: under the claim, a replica whose local tier is behind finds the
   * newer entry (`stored`) instead of deleting it.
   */
  async #fetchShared(
    request: TokenRequest,
    caller: Caller,
    seen: StoredToken | undefined,
    evict = false,
  ): Promise<{ token: IssuedToken; source: TokenSource }> {
    const { store, clock, policy } = this.#deps;
    const claimed = await fetchUnderClaim(
      {
        store,
        credential: request.credential,
        seen,
        waitMs: this.#deps.claimWaitMs,
        serves: (stored) =>
          freshness(stored.token, clock(), policy, request.minValiditySeconds) !== "expiring",
        onWait: this.#deps.onClaimWait,
      },
      async (granted) => {
        if (evict && granted) await store.delete(request.credential);
        return this.#fetchAndStore(request, caller);
      },
    );
    return claimed.kind === "stored"
      ? { token: claimed.stored.token, source: "joined" }
      : { token: claimed.value, source: "upstream" };
  }

  async #fetchAndStore(request: TokenRequest, caller: Caller): Promise<IssuedToken> {
    const { token, reported } = await this.#attempt(request, caller);
    const { clock, policy } = this.#deps;
    // A token already inside its refresh margin would be refetched by the next caller anyway: it is
    // served to the callers waiting for it, but not stored.
    // The report and the entry are independent writes: with a shared store, one round trip, not two.
    await Promise.all([
      reported,
      isUsable(token, clock(), policy.margin, 0)
        ? this.#deps.store.put(request.credential, token, token.expiresAtMs - clock())
        : undefined,
    ]);
    return token;
  }

  /** One upstream attempt through the gate; `reported` settles once its acceptance is recorded. */
  async #attempt(
    request: TokenRequest,
    caller: Caller,
  ): Promise<{ token: IssuedToken; reported: Promise<void> }> {
    const { credential } = request;
    // Refused without reaching Aspose (a pair in its cool-down, an open circuit): no attempt to
    // reserve, no guess slot.
    const refused = await this.#deps.issuer.refusal?.(credential);
    if (refused !== undefined) throw refused;
    // An unverified credential reserves the attempt; its outcome is reported, and Aspose's answer
    // makes or drops the credential's verifier.
    const admitted = await this.#deps.gate.admit(credential, caller.addressKey);
    if (!admitted.allowed) throw tooManyAttempts(admitted.retryAfterSeconds);
    const { attempt } = admitted;
    let token: IssuedToken;
    try {
      token = await this.#deps.issuer.issue(credential);
    } catch (error) {
      if (error instanceof ServiceError && error.code === ServiceCode.INVALID_CREDENTIALS) {
        await attempt.rejected();
        // The secret was revoked or rotated: a token stored for it must not be served again.
        await this.#deps.store.delete(credential);
      } else {
        await attempt.inconclusive();
      }
      throw error;
    }
    return { token, reported: attempt.accepted(token.expiresAtMs) };
  }
}
