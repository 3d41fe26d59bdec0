import { createHash } from "node:crypto";

/** How the fake rate-limits one client_id + client_secret pair, as Aspose documents it. */
export interface PairRateLimitSettings {
  /** Failed token requests (invalid_client) for a pair before it is refused; Aspose: 5. */
  readonly failures?: number;
  /** How long the pair is then answered 429, and the Retry-After it is told; Aspose: 600. */
  readonly cooldownSeconds?: number;
}

/**
 * Aspose's per-pair limit (docs.aspose.cloud, "rate limits"): after `failures` failed token requests
 * for one client_id + client_secret pair, every request for that pair is answered 429 with
 * `Retry-After` (the seconds left) for `cooldownSeconds`; any other pair, a corrected secret included,
 * is not affected. Failures count from the end of the last cool-down; a token for the pair clears
 * them. Whether Aspose's Retry-After counts down is not known; the seconds left are what a client
 * needs either way.
 */
export class PairRateLimit {
  readonly #failures: number;
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #failed = new Map<string, number>();
  readonly #coolUntil = new Map<string, number>();

  constructor(settings: PairRateLimitSettings, now: () => number) {
    this.#failures = settings.failures ?? 5;
    this.#cooldownMs = (settings.cooldownSeconds ?? 600) * 1000;
    this.#now = now;
    if (!Number.isSafeInteger(this.#failures) || this.#failures < 1)
      throw new RangeError(`failures must be an integer >= 1, got ${this.#failures}`);
    if (!(this.#cooldownMs > 0)) throw new RangeError("cooldownSeconds must be > 0");
  }

  /** The whole seconds the pair is still refused for, or undefined when it may be answered. */
  refusedFor(clientId: string, clientSecret: string): number | undefined {
    const pair = pairKey(clientId, clientSecret);
    const until = this.#coolUntil.get(pair);
    if (until === undefined) return undefined;
    const leftMs = until - this.#now();
    if (leftMs > 0) return Math.ceil(leftMs / 1000);
    this.#coolUntil.delete(pair);
    return undefined;
  }

  /** The pair was answered invalid_client; the last allowed failure starts its cool-down. */
  failed(clientId: string, clientSecret: string): void {
    const pair = pairKey(clientId, clientSecret);
    const count = (this.#failed.get(pair) ?? 0) + 1;
    if (count < this.#failures) {
      this.#failed.set(pair, count);
      return;
    }
    this.#failed.delete(pair);
    this.#coolUntil.set(pair, this.#now() + this.#cooldownMs);
  }

  /** The pair got a token: its failures are forgotten. */
  succeeded(clientId: string, clientSecret: string): void {
    this.#failed.delete(pairKey(clientId, clientSecret));
  }
}

function pairKey(clientId: string, clientSecret: string): string {
  return createHash("sha256").update(`${clientId.length}:${clientId}|${clientSecret}`).digest("base64url");
}
