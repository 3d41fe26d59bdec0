/**
 * Collapses concurrent work for the same key into one promise. A failure reaches every waiter and is
 * not remembered: the next call after it settles starts afresh.
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** Runs `work` unless a run for `key` is already in flight; `leader` says which happened. */
  run(key: string, work: () => Promise<T>): { readonly promise: Promise<T>; readonly leader: boolean } {
    const existing = this.#inFlight.get(key);
    if (existing !== undefined) return { promise: existing, leader: false };
    // The async wrapper turns a synchronous throw into a rejection, and `finally` always runs after
    // the set below: settling inside run() would leave a rejected flight in the map for good.
    const promise = (async () => work())().finally(() => {
      this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, promise);
    return { promise, leader: true };
  }

  /** Whether work for `key` is in flight. */
  has(key: string): boolean {
    return this.#inFlight.has(key);
  }

  /** How many keys have work in flight. */
  get size(): number {
    return this.#inFlight.size;
  }
}
