import { setTimeout as delay } from "node:timers/promises";
import { ServiceError, tooManyAttempts } from "../errors.js";
import type { CredentialGate } from "../limits/credential-gate.js";
import type { StoredToken, TokenIssuer, TokenStore } from "./ports.js";
import { isUsable, type RefreshMargin } from "./refresh-policy.js";
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

export interface TokenServiceDependencies {
  readonly issuer: TokenIssuer;
  readonly store: TokenStore;
  /** The brute-force defence: lockouts for unverified credentials, a pass for known-good ones. */
  readonly gate: CredentialGate;
  /** A forced refresh this soon after the stored token was fetched returns it (0: no bound). */
  readonly forceRefreshMinIntervalMs: number;
  readonly margin: RefreshMargin;
  readonly clock: Clock;
  /**
   * The longest a caller waits for another replica's fetch (the cross-replica claim's lifetime): it
   * covers a whole upstream call, so a slow holder is not doubled.
   */
  readonly claimWaitMs: number;
  readonly onLookup?: (source: TokenSource) => void;
  /** Called when a fetch starts waiting for another replica's (metrics). */
  readonly onClaimWait?: () => void;
}

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

/**
 * Serves access tokens: the gate, then the store, then one upstream fetch shared by concurrent
 * callers in this process (single flight) and across replicas (the store's fetch claim). The order
 * matters: an unverified credential meets the lockout before the store so that a locked-out clientId
 * cannot keep guessing secrets against stored tokens; a known-good one passes (see CredentialGate).
 * Freshness is decided here, never by a store.
 */
export class TokenService implements TokenProvider {
  readonly #deps: TokenServiceDependencies;
  readonly #flights = new SingleFlight<{ token: IssuedToken; source: TokenSource }>();

  constructor(deps: TokenServiceDependencies) {
    this.#deps = deps;
  }

  /** The token for a validated request, from the store or Aspose; rejects with coded errors. */
  async issue(request: TokenRequest, caller: Caller): Promise<ServedToken> {
    const { store, gate } = this.#deps;
    const { credential } = request;
    // -- Brute-force gate (issue 11): known-good credentials pass, others meet the lockouts. --
    const refused = await gate.check(credential, caller.addressKey);
    if (refused !== undefined) throw tooManyAttempts(refused.retryAfterSeconds);
    // -- end of gate --

    const stored = await store.get(credential);
    if (
      stored !== undefined &&
      this.#usable(stored.token, request) &&
      (!request.forceRefresh || this.#justFetched(stored.token))
    ) {
      return this.#served(stored.token, "cache");
    }
    const flight = this.#flights.run(credential.lookupKey, () => this.#fetchShared(request, caller, stored));
    const result = await flight.promise;
    return this.#served(result.token, flight.leader ? result.source : "joined");
  }

  #served(token: IssuedToken, source: TokenSource): ServedToken {
    this.#deps.onLookup?.(source);
    return { token, source, servedAtMs: this.#deps.clock() };
  }

  #usable(token: IssuedToken, request: TokenRequest): boolean {
    return isUsable(token, this.#deps.clock(), this.#deps.margin, request.minValiditySeconds);
  }

  // -- forceRefresh bound (issue 11): a token fetched this recently is as fresh as a refetch, so a
  // forced refresh in a loop (or in aliases) cannot pump upstream calls. --
  #justFetched(token: IssuedToken): boolean {
    return this.#deps.clock() - token.issuedAtMs < this.#deps.forceRefreshMinIntervalMs;
  }

  /** One fetch across replicas; `seen` is the entry this caller saw and could not use. */
  async #fetchShared(
    request: TokenRequest,
    caller: Caller,
    seen: StoredToken | undefined,
  ): Promise<{ token: IssuedToken; source: TokenSource }> {
    const { store } = this.#deps;
    const deadline = performance.now() + this.#deps.claimWaitMs;
    let pause = FIRST_POLL_MS;
    let waiting = false;
    let baseline = seen;
    while (performance.now() < deadline) {
      const claim = await store.claim(request.credential, baseline);
      if (claim.kind === "granted") {
        try {
          return { token: await this.#fetchAndStore(request, caller), source: "upstream" };
        } finally {
          // After the entry is written (or the fetch failed, so waiters may try themselves).
          await claim.release();
        }
      }
      if (claim.kind === "stored") {
        // Written by another replica's fetch since this caller looked.
        if (this.#usable(claim.stored.token, request)) return { token: claim.stored.token, source: "joined" };
        baseline = claim.stored;
        continue;
      }
      if (!waiting) {
        waiting = true;
        this.#deps.onClaimWait?.();
      }
      await delay(Math.min(pause, Math.max(0, deadline - performance.now())));
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
    // The claim outlived its lifetime without an entry: fetch rather than fail.
    return { token: await this.#fetchAndStore(request, caller), source: "upstream" };
  }

  async #fetchAndStore(request: TokenRequest, caller: Caller): Promise<IssuedToken> {
    const token = await this.#attempt(request, caller);
    const { clock, margin } = this.#deps;
    // A token already inside its refresh margin would be refetched by the next caller anyway: it is
    // served to the callers waiting for it, but not stored.
    if (isUsable(token, clock(), margin, 0)) {
      await this.#deps.store.put(request.credential, token, token.expiresAtMs - clock());
    }
    return token;
  }

  async #attempt(request: TokenRequest, caller: Caller): Promise<IssuedToken> {
    const { credential } = request;
    // -- Brute-force gate (issue 11): an unverified credential reserves the attempt; its outcome is
    // reported, and Aspose's answer makes or drops the credential's verifier. --
    const admitted = await this.#deps.gate.admit(credential, caller.addressKey);
    if (!admitted.allowed) throw tooManyAttempts(admitted.retryAfterSeconds);
    const { attempt } = admitted;
    let token: IssuedToken;
    try {
      token = await this.#deps.issuer.issue(credential);
    } catch (error) {
      if (error instanceof ServiceError && error.code === "INVALID_CREDENTIALS") await attempt.rejected();
      else await attempt.inconclusive();
      throw error;
    }
    await attempt.accepted(token.expiresAtMs);
    return token;
  }
}
