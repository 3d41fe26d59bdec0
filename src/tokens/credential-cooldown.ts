import { ServiceCode, ServiceError, upstreamRateLimited } from "../errors.js";
import { type CooldownStore, MAX_COOLDOWN_SECONDS } from "./cooldown-store.js";
import type { Credential } from "./credential.js";
import type { TokenIssuer } from "./ports.js";
import type { Clock, IssuedToken } from "./types.js";

/**
 * The cool-down of a 429 that came without Retry-After: long enough that the callers of that pair stop
 * reaching Aspose for a while, short enough that a transient limit is not held against them for long.
 */
export const DEFAULT_COOLDOWN_SECONDS = 60;

export interface CredentialCooldownOptions {
  readonly store: CooldownStore;
  readonly clock: Clock;
  /** Called for each request refused from a remembered cool-down. */
  readonly onRefused?: () => void;
}

/**
 * Remembers Aspose's 429 per credential (client_id + client_secret pair, by its lookup key) for its
 * Retry-After (DEFAULT_COOLDOWN_SECONDS without one, at most MAX_COOLDOWN_SECONDS), and refuses that
 * pair with UPSTREAM_RATE_LIMITED and the seconds left until then: Aspose rate-limits a pair after
 * five failed requests (600 s), and calling it again during that time only hammers it from this
 * service's address. The token service asks `refusal()` before it reserves an attempt, so a cooled
 * pair takes no slot of the guess budget, none of the bulkhead and never reaches the circuit breaker
 * (this sits outside both); `issue()` does not ask again, which would cost a miss a second shared-store
 * read. Only issuing is refused: a cached token for the pair is served before the issuer is asked.
 */
export class CredentialCooldown implements TokenIssuer {
  readonly #inner: TokenIssuer;
  readonly #options: CredentialCooldownOptions;

  constructor(inner: TokenIssuer, options: CredentialCooldownOptions) {
    this.#inner = inner;
    this.#options = options;
  }

  async refusal(credential: Credential): Promise<ServiceError | undefined> {
    const { store, clock } = this.#options;
    const untilMs = await store.until(credential.lookupKey);
    const leftMs = untilMs === undefined ? 0 : untilMs - clock();
    if (leftMs <= 0) return this.#inner.refusal?.(credential);
    this.#options.onRefused?.();
    return upstreamRateLimited(Math.max(1, Math.ceil(leftMs / 1000)));
  }

  async issue(credential: Credential): Promise<IssuedToken> {
    try {
      return await this.#inner.issue(credential);
    } catch (error) {
      if (!(error instanceof ServiceError) || error.code !== ServiceCode.UPSTREAM_RATE_LIMITED) throw error;
      const seconds = cooldownSeconds(error.extensions.retryAfter);
      await this.#options.store.remember(credential.lookupKey, this.#options.clock() + seconds * 1000);
      throw upstreamRateLimited(seconds);
    }
  }
}

/** The cool-down a 429's Retry-After (whole seconds, or absent) asks for, bounded both ways. */
export function cooldownSeconds(retryAfter: unknown): number {
  if (typeof retryAfter !== "number" || !Number.isFinite(retryAfter)) return DEFAULT_COOLDOWN_SECONDS;
  // "Retry now" after the connector's own retries were spent is still a 429: a second at least.
  return Math.min(MAX_COOLDOWN_SECONDS, Math.max(1, Math.ceil(retryAfter)));
}
