import { isUpstreamFault, upstreamUnavailable } from "../errors.js";
import type { Credential } from "./credential.js";
import type { TokenIssuer } from "./ports.js";
import type { CircuitState, Clock, IssuedToken } from "./types.js";

export type { CircuitState } from "./types.js";

export interface CircuitBreakerOptions {
  /** Consecutive upstream faults that open the circuit. */
  readonly threshold: number;
  readonly cooldownMs: number;
  readonly clock: Clock;
  readonly onStateChange?: (state: CircuitState) => void;
}

/**
 * Stops calling Aspose while it is failing. After `threshold` consecutive upstream faults the circuit
 * opens: calls are refused at once (UPSTREAM_UNAVAILABLE with retryAfter) for the cool-down, so an
 * outage costs callers no waiting and Aspose no retry storm; then one probe call is let through
 * (half-open) and its outcome closes or re-opens the circuit. Per replica: each replica judges its own
 * path to Aspose, and a shared store would put Redis on the failure path (docs/caching.md).
 */
export class CircuitBreaker implements TokenIssuer {
  readonly #inner: TokenIssuer;
  readonly #options: CircuitBreakerOptions;
  #faults = 0;
  #openedAtMs = 0;
  #state: CircuitState = "closed";
  #probing = false;

  constructor(inner: TokenIssuer, options: CircuitBreakerOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /** The circuit's state now (an open circuit past its cool-down reads as half-open). */
  get state(): CircuitState {
    if (this.#state === "open" && this.#remainingMs() <= 0) return "half-open";
    return this.#state;
  }

  async issue(credential: Credential): Promise<IssuedToken> {
    const state = this.state;
    if (state === "open" || (state === "half-open" && this.#probing)) {
      throw upstreamUnavailable(Math.max(1, Math.ceil(this.#remainingMs() / 1000)));
    }
    const probe = state === "half-open";
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
      if (isUpstreamFault(error)) this.#fault(probe);
      else if (probe) this.#set("closed");
      throw error;
    } finally {
      if (probe) this.#probing = false;
    }
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
