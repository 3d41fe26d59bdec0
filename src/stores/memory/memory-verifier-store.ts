import { LRUCache } from "lru-cache";
import type { VerifierStore } from "../../limits/verifier-store.js";
import type { Clock } from "../../tokens/types.js";

export interface MemoryVerifierStoreOptions {
  /** How long a verifier lasts after Aspose last accepted its credential (VERIFIER_TTL_SECONDS). */
  readonly ttlMs: number;
  readonly clock: Clock;
  /** The most verifiers held; the least recently used go first. */
  readonly maxEntries: number;
}

/**
 * Verifiers in this process: an LRU of lookup key → expiry (epoch ms, by the injected clock). Only
 * a credential Aspose accepted adds one, so an attacker cannot fill it without valid credentials.
 */
export class MemoryVerifierStore implements VerifierStore {
  readonly #expiries: LRUCache<string, number>;
  readonly #ttlMs: number;
  readonly #clock: Clock;

  constructor(options: MemoryVerifierStoreOptions) {
    this.#expiries = new LRUCache({ max: options.maxEntries });
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock;
  }

  async has(lookupKey: string): Promise<boolean> {
    return this.expiresAt(lookupKey) !== undefined;
  }

  async remember(lookupKey: string, coverUntilMs: number): Promise<void> {
    this.rememberUntil(lookupKey, Math.max(this.#clock() + this.#ttlMs, coverUntilMs));
  }

  async forget(lookupKey: string): Promise<void> {
    this.#expiries.delete(lookupKey);
  }

  async close(): Promise<void> {
    this.#expiries.clear();
  }

  /** When the verifier expires, undefined when there is none (an expired one is dropped). */
  expiresAt(lookupKey: string): number | undefined {
    const expiresAtMs = this.#expiries.get(lookupKey);
    if (expiresAtMs === undefined) return undefined;
    if (expiresAtMs > this.#clock()) return expiresAtMs;
    this.#expiries.delete(lookupKey);
    return undefined;
  }

  /** Holds a verifier until `expiresAtMs` (a shared store's local tier keeps the shared expiry). */
  rememberUntil(lookupKey: string, expiresAtMs: number): void {
    if (expiresAtMs > this.#clock()) this.#expiries.set(lookupKey, expiresAtMs);
  }
}
