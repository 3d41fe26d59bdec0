import type { Credential } from "../../src/tokens/credential.js";
import type { FetchClaim, StoredToken, TokenStore } from "../../src/tokens/ports.js";
import type { IssuedToken } from "../../src/tokens/types.js";

/**
 * The real token store, observed: counts the callers that have looked it up, so a test knows, without
 * sleeping, that every concurrent request has reached the service (and joined the one in-flight fetch:
 * a lookup resolves at once, before any upstream answer can arrive) before the fake releases it.
 */
export class ObservedTokenStore implements TokenStore {
  readonly #inner: TokenStore;
  readonly #waiters = new Set<{ n: number; resolve: () => void }>();
  readonly #putWaiters = new Set<{ n: number; resolve: () => void }>();
  #entered = 0;
  #puts = 0;

  constructor(inner: TokenStore) {
    this.#inner = inner;
  }

  get(credential: Credential): Promise<StoredToken | undefined> {
    const result = this.#inner.get(credential);
    this.#entered++;
    release(this.#waiters, this.#entered);
    return result;
  }

  async put(credential: Credential, token: IssuedToken, ttlMs: number): Promise<void> {
    await this.#inner.put(credential, token, ttlMs);
    this.#puts++;
    release(this.#putWaiters, this.#puts);
  }

  /** Resolves once `n` tokens in total have been stored (a background refresh is done when it stores). */
  stored(n: number): Promise<void> {
    if (this.#puts >= n) return Promise.resolve();
    return new Promise((resolve) => this.#putWaiters.add({ n, resolve }));
  }

  delete(credential: Credential): Promise<void> {
    return this.#inner.delete(credential);
  }

  claim(credential: Credential, seen: StoredToken | undefined): Promise<FetchClaim> {
    return this.#inner.claim(credential, seen);
  }

  size(): number {
    return this.#inner.size();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** How many lookups so far. */
  get count(): number {
    return this.#entered;
  }

  /** Resolves once `n` lookups in total have been made. */
  entered(n: number): Promise<void> {
    if (this.#entered >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ n, resolve }));
  }
}

function release(waiters: Set<{ n: number; resolve: () => void }>, count: number): void {
  for (const waiter of waiters) {
    if (count >= waiter.n) {
      waiters.delete(waiter);
      waiter.resolve();
    }
  }
}
