import { LRUCache } from "lru-cache";
import { type CooldownStore, MAX_COOLDOWN_SECONDS } from "../../tokens/cooldown-store.js";
import type { Clock } from "../../tokens/types.js";

export interface MemoryCooldownStoreOptions {
  readonly clock: Clock;
  /** The most cool-downs held; the least recently used go first. */
  readonly maxEntries: number;
}

/**
 * Cool-downs in this process: an LRU of lookup key → end (epoch ms, by the injected clock). Each entry
 * costs an attacker a 429 from Aspose, that is several failed upstream calls; past the bound the oldest
 * is forgotten, which costs at most one more call to Aspose for that pair, answered 429 again.
 */
export class MemoryCooldownStore implements CooldownStore {
  readonly #ends: LRUCache<string, number>;
  readonly #clock: Clock;

  constructor(options: MemoryCooldownStoreOptions) {
    this.#ends = new LRUCache({ max: options.maxEntries });
    this.#clock = options.clock;
  }

  async until(lookupKey: string): Promise<number | undefined> {
    return this.untilNow(lookupKey);
  }

  async remember(lookupKey: string, untilMs: number): Promise<void> {
    this.rememberUntil(lookupKey, untilMs);
  }

  async close(): Promise<void> {
    this.#ends.clear();
  }

  /** The end of a running cool-down, undefined when there is none (an ended one is dropped). */
  untilNow(lookupKey: string): number | undefined {
    const untilMs = this.#ends.get(lookupKey);
    if (untilMs === undefined) return undefined;
    if (untilMs > this.#clock()) return untilMs;
    this.#ends.delete(lookupKey);
    return undefined;
  }

  /** Holds a cool-down until `untilMs`, at most MAX_COOLDOWN_SECONDS from now. */
  rememberUntil(lookupKey: string, untilMs: number): void {
    const now = this.#clock();
    const bounded = Math.min(untilMs, now + MAX_COOLDOWN_SECONDS * 1000);
    if (bounded > now) this.#ends.set(lookupKey, bounded);
  }
}
