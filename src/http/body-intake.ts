/**
 * The bodies a server is receiving, as one account: the memory they hold together, bounded by a
 * budget, and the rate at which each arrives, bounded below. A flood of slow uploads then costs the
 * service at most the budget (plus SMALL_BODY_BYTES per connection for the small bodies it never
 * refuses), for at most a couple of seconds per stalled body, instead of a buffer per connection for
 * as long as the connection cares to trickle.
 */

/** One body being received: what it holds of the budget and how much of it has arrived. */
export interface Arrival {
  /** Bytes received so far; the rate check reads it. */
  received: number;
  /** Grows what this body holds of the budget by `bytes`; false when the budget has no room. */
  grow(bytes: number): boolean;
  /** Gives back everything this body holds and stops watching its rate. */
  finish(): void;
}

export interface BodyIntakeOptions {
  /** Bytes all unfinished bodies may hold together. */
  readonly budgetBytes: number;
  /** The fewest bytes a body still arriving must bring in each whole window; 0: no minimum. */
  readonly minBytesPerSecond: number;
  /** Called when a body is refused for want of room or cut for arriving too slowly. */
  readonly onShed?: (reason: "body_budget" | "slow_body") => void;
}

/** How often arrivals are checked; the minimum rate is per window of this length. */
const WINDOW_MS = 1000;

/**
 * Bodies up to this size are never refused for want of room, only counted: every token request is far
 * smaller, so a flood of large uploads cannot make honest requests wait on the budget. Together they
 * hold at most this much per open connection.
 */
export const SMALL_BODY_BYTES = 4096;

interface Watched {
  readonly arrival: Arrival;
  /** Bytes received at the last check; undefined until the body has lived through one. */
  mark: number | undefined;
  readonly cut: () => void;
}

/** The budget and rate watch of one server's request bodies. */
export class BodyIntake {
  readonly #budgetBytes: number;
  readonly #minBytes: number;
  readonly #onShed: BodyIntakeOptions["onShed"];
  readonly #watched = new Set<Watched>();
  #held = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: BodyIntakeOptions) {
    this.#budgetBytes = options.budgetBytes;
    this.#minBytes = Math.ceil((options.minBytesPerSecond * WINDOW_MS) / 1000);
    this.#onShed = options.onShed;
  }

  /** Bytes the bodies being received hold now. */
  get heldBytes(): number {
    return this.#held;
  }

  /**
   * Admits a body that holds `bytes` from its start (its declared length), or undefined when the
   * budget has no room for it; `cut` is called if it then arrives slower than the minimum rate.
   */
  admit(bytes: number, cut: () => void): Arrival | undefined {
    if (!this.#reserve(bytes, bytes)) {
      this.#onShed?.("body_budget");
      return undefined;
    }
    let holds = bytes;
    let watched: Watched | undefined;
    const arrival: Arrival = {
      received: 0,
      grow: (more) => {
        if (!this.#reserve(more, holds + more)) {
          this.#onShed?.("body_budget");
          return false;
        }
        holds += more;
        return true;
      },
      finish: () => {
        this.#held -= holds;
        holds = 0;
        if (watched !== undefined) this.#watched.delete(watched);
      },
    };
    if (this.#minBytes > 0) {
      watched = { arrival, mark: undefined, cut };
      this.#watched.add(watched);
      this.#timer ??= setInterval(() => this.#check(), WINDOW_MS).unref();
    }
    return arrival;
  }

  /** Counts `bytes` more for a body that will then hold `total`; false when it does not fit. */
  #reserve(bytes: number, total: number): boolean {
    if (total > SMALL_BODY_BYTES && this.#held + bytes > this.#budgetBytes) return false;
    this.#held += bytes;
    return true;
  }

  /**
   * Cuts every body that brought fewer than the minimum bytes since the last check. A body's first
   * check only marks it: it may have begun just before, and gets one whole window.
   */
  #check(): void {
    for (const watched of this.#watched) {
      const { received } = watched.arrival;
      if (watched.mark !== undefined && received - watched.mark < this.#minBytes) {
        this.#watched.delete(watched);
        this.#onShed?.("slow_body");
        watched.cut();
        continue;
      }
      watched.mark = received;
    }
    // No timer runs while nothing arrives: an idle server has nothing to check.
    if (this.#watched.size === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }
}
