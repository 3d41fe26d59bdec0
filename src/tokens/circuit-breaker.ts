import { LRUCache } from "lru-cache";
import { isUpstreamFault, ServiceCode, ServiceError, upstreamUnavailable } from "../errors.js";
import type { Credential } from "./credential.js";
import type { TokenIssuer } from "./ports.js";
import type { CircuitState, Clock, IssuedToken } from "./types.js";

export type { CircuitState } from "./types.js";

// Aspose's per-pair 429 follows that pair's fifth failure and lasts 600 s: a 429 within this long of
// an INVALID_CREDENTIALS answer for the same pair is that cool-down, whatever else is happening.
const RECENT_REFUSAL_MS = 15 * 60_000;
// Pairs remembered as refused; the guess budget lets at most a few thousand fail per 15 minutes.
const MAX_RECENT_REFUSALS = 10_000;

export interface CircuitBreakerOptions {
  /** Consecutive upstream faults that open the circuit. */
  readonly threshold: number;
  readonly cooldownMs: number;
  readonly clock: Clock;
  readonly onStateChange?: (state: CircuitState) => void;
  /**
   * A 429 is a fault only once this many distinct credentials got one within `rateLimitWindowMs`:
   * Aspose rate-limits a pair that failed too often, which says nothing about its health.
   */
  readonly rateLimitedPairs: number;
  readonly rateLimitWindowMs: number;
}

/**
 * Stops calling Aspose while it is failing. After `threshold` consecutive upstream faults the circuit
 * opens: calls are refused at once (UPSTREAM_UNAVAILABLE with retryAfter) for the cool-down, so an
 * outage costs callers no waiting and Aspose no retry storm; then one probe call is let through
 * (half-open) and its outcome closes or re-opens the circuit. Per replica: each replica judges its own
 * path to Aspose, and a shared store would put Redis on the failure path (docs/caching.md).
 *
 * Only what says Aspose is unwell counts: timeouts, connection failures, 5xx, unusable answers, and
 * 429s once they come for several credentials (`rateLimitedPairs` within `rateLimitWindowMs`), which
 * is Aspose limiting this service rather than one pair. A 429 for one pair is that pair's cool-down and
 * neither counts nor clears the count, nor does a 429 for a pair this replica saw refused within
 * RECENT_REFUSAL_MS (Aspose's documented cool-down after failed guesses); an INVALID_CREDENTIALS answer
 * is Aspose up and answering, and clears the count as a token does. So one credential's answers,
 * however many, can never open it, and guessed pairs only when guessed through other replicas.
 */
export class CircuitBreaker implements TokenIssuer {
  readonly #inner: TokenIssuer;
  readonly #options: CircuitBreakerOptions;
  #faults = 0;
  #openedAtMs = 0;
  #state: CircuitState = "closed";
  #probing = false;
  /** Lookup key → when Aspose last answered INVALID_CREDENTIALS for it. */
  readonly #refusedAt = new LRUCache<string, number>({ max: MAX_RECENT_REFUSALS });
  /** The last few distinct credentials answered 429, oldest first: lookup key and when. */
  #rateLimited: { readonly key: string; readonly atMs: number }[] = [];

  constructor(inner: TokenIssuer, options: CircuitBreakerOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /** The circuit's state now (an open circuit past its cool-down reads as half-open). */
  get state(): CircuitState {
    if (this.#state === "open" && this.#remainingMs() <= 0) return "half-open";
    return this.#state;
  }

  /** UPSTREAM_UNAVAILABLE while the circuit refuses calls (open, or half-open with its probe out). */
  async refusal(): Promise<ServiceError | undefined> {
    return this.#refusal();
  }

  async issue(credential: Credential): Promise<IssuedToken> {
    const refused = this.#refusal();
    if (refused !== undefined) throw refused;
    const probe = this.state === "half-open";
    if (probe) {
      this.#probing = true;
      this.#set("half-open");
    }
    try {
      const token = await this.#inner.issue(credential);
      this.#faults = 0;
      this.#set("closed");
      return token;
    } catch (error) {
      if (this.#countsAsFault(error, credential)) this.#fault(probe);
      else {
        if (isAnswer(error)) {
          this.#faults = 0;
          this.#refusedAt.set(credential.lookupKey, this.#options.clock());
        }
        if (probe) this.#set("closed");
      }
      throw error;
    } finally {
      if (probe) this.#probing = false;
    }
  }

  /** Whether a failure says Aspose is unwell; a 429 is recorded here, by credential, to tell. */
  #countsAsFault(error: unknown, credential: Credential): boolean {
    if (!isUpstreamFault(error)) return false;
    if (error.code !== ServiceCode.UPSTREAM_RATE_LIMITED) return true;
    const { rateLimitedPairs, rateLimitWindowMs, clock } = this.#options;
    const now = clock();
    if ((this.#refusedAt.get(credential.lookupKey) ?? Number.NEGATIVE_INFINITY) > now - RECENT_REFUSAL_MS)
      return false;
    // Bounded by construction: only the last `rateLimitedPairs` distinct credentials are kept.
    const recent = this.#rateLimited.filter(
      (entry) => entry.key !== credential.lookupKey && entry.atMs > now - rateLimitWindowMs,
    );
    recent.push({ key: credential.lookupKey, atMs: now });
    this.#rateLimited = recent.slice(-rateLimitedPairs);
    return this.#rateLimited.length >= rateLimitedPairs;
  }

  #refusal(): ServiceError | undefined {
    const state = this.state;
    if (state === "open" || (state === "half-open" && this.#probing)) {
      return upstreamUnavailable(Math.max(1, Math.ceil(this.#remainingMs() / 1000)));
    }
    return undefined;
  }

  #fault(probe: boolean): void {
    this.#faults += 1;
    if (probe || this.#faults >= this.#options.threshold) {
      this.#openedAtMs = this.#options.clock();
      this.#set("open");
    }
  }

  #remainingMs(): number {
    return this.#openedAtMs + this.#options.cooldownMs - this.#options.clock();
  }

  #set(state: CircuitState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#options.onStateChange?.(state);
  }
}

/** Aspose answered the request itself (the credential was refused): it is up. */
function isAnswer(error: unknown): boolean {
  return error instanceof ServiceError && error.code === ServiceCode.INVALID_CREDENTIALS;
}
