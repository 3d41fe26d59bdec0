/**
 * The budget of unverified upstream attempts one replica may make, whatever their clientIds and
 * addresses: attempts in flight plus failures within the last second stay below `perSecond`. The
 * per-subject lockouts cannot see a guesser who rotates both; this bounds what Aspose receives from
 * the service's address to `perSecond` failing requests in any second. An attempt holds its slot
 * while in flight (a concurrent burst cannot slip past); a failure keeps it for one second, and so does
 * an inconclusive attempt (timed out, rate-limited: it may have reached Aspose, which may be
 * struggling); an accepted attempt gives it back at once, so new valid credentials are held up only
 * while guesses fill the budget. The shared limiter applies the same rule in Redis (limiter-scripts).
 */

/** How long a failure keeps its slot. */
export const GUESS_WINDOW_MS = 1000;

export class GuessBudget {
  readonly #perSecond: number;
  #inFlight = 0;
  /** When each recent failure stops counting, oldest first: never more than `perSecond` of them. */
  readonly #failures: number[] = [];

  constructor(perSecond: number) {
    this.#perSecond = perSecond;
  }

  /** Takes a slot for an attempt at `now`; false when the budget is full. */
  take(now: number): boolean {
    while ((this.#failures[0] ?? Number.POSITIVE_INFINITY) <= now) this.#failures.shift();
    if (this.#inFlight + this.#failures.length >= this.#perSecond) return false;
    this.#inFlight += 1;
    return true;
  }

  /** Ends a taken slot: `kept` holds it for GUESS_WINDOW_MS from `now`, otherwise it is free at once. */
  settle(kept: boolean, now: number): void {
    this.#inFlight = Math.max(0, this.#inFlight - 1);
    if (!kept) return;
    this.#failures.push(now + GUESS_WINDOW_MS);
    // Bounded even should the clock step back: the oldest failures matter least.
    if (this.#failures.length > this.#perSecond) this.#failures.shift();
  }
}
