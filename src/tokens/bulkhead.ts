import { type ServiceError, upstreamUnavailable } from "../errors.js";
import type { Credential } from "./credential.js";
import type { TokenIssuer } from "./ports.js";
import type { IssuedToken } from "./types.js";

export interface BulkheadOptions {
  /** Upstream calls in flight at once. */
  readonly maxConcurrent: number;
  /** How long a call may wait for a free slot before it is refused. */
  readonly maxWaitMs: number;
  readonly onShed?: () => void;
}

/**
 * A cap on concurrent upstream calls. A slow Aspose cannot pile up sockets and memory, and a cold start
 * of many credentials cannot flood it: past the cap a call waits (first come, first served) for at most
 * `maxWaitMs`, then is refused with UPSTREAM_UNAVAILABLE and retryAfter rather than left hanging.
 * Waiting uses real time: it bounds what a caller experiences.
 */
export class Bulkhead implements TokenIssuer {
  readonly #inner: TokenIssuer;
  readonly #options: BulkheadOptions;
  readonly #queue: (() => void)[] = [];
  #inFlight = 0;

  constructor(inner: TokenIssuer, options: BulkheadOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  /** The inner issuer's refusal: a full bulkhead is only known by waiting for a slot. */
  async refusal(credential: Credential): Promise<ServiceError | undefined> {
    return this.#inner.refusal?.(credential);
  }

  async issue(credential: Credential): Promise<IssuedToken> {
    // A freed slot is handed straight to the next waiter, so a newcomer cannot take it in between.
    if (this.#inFlight >= this.#options.maxConcurrent) await this.#slot();
    else this.#inFlight += 1;
    try {
      return await this.#inner.issue(credential);
    } finally {
      const next = this.#queue.shift();
      if (next !== undefined) next();
      else this.#inFlight -= 1;
    }
  }

  #slot(): Promise<void> {
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        const index = this.#queue.indexOf(grant);
        if (index !== -1) this.#queue.splice(index, 1);
        this.#options.onShed?.();
        reject(upstreamUnavailable(1));
      }, this.#options.maxWaitMs);
      this.#queue.push(grant);
    });
  }
}
