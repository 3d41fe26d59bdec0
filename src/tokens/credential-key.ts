import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Credentials } from "./types.js";

/**
 * Derives the keys under which tokens and attempt counters are kept. HMAC-SHA256 under a server-side
 * key: not reversible, useless without the key, and it covers the token URL so tokens never cross
 * upstreams. Lengths are prefixed so that ("ab","c") and ("a","bc") cannot collide.
 */
export class CredentialKeyer {
  // A KeyObject, not a Buffer: Node prepares a Buffer key afresh on every createHmac (about 17 µs
  // against 2.5 µs on Node 24, measured on the hit path).
  readonly #key: KeyObject;
  readonly #scope: string;
  // The per-request loader and the token service both need a request's key: derive it once.
  readonly #derived = new WeakMap<Credentials, string>();
  readonly #clientKeys = new LRUCache<string, string>({ max: 10_000 });
  readonly #addressKeys = new LRUCache<string, string>({ max: 10_000 });

  constructor(key: Buffer, tokenUrl: string) {
    this.#key = createSecretKey(key);
    this.#scope = `${tokenUrl.length}:${tokenUrl}`;
  }

  /** The cache key for a clientId AND clientSecret pair. */
  credentialKey(credentials: Credentials): string {
    const known = this.#derived.get(credentials);
    if (known !== undefined) return known;
    const key = createHmac("sha256", this.#key)
      .update(
        `cred|${this.#scope}|${credentials.clientId.length}:${credentials.clientId}|${credentials.clientSecret}`,
      )
      .digest("base64url");
    this.#derived.set(credentials, key);
    return key;
  }

  /** The counter key for a clientId alone (brute-force accounting), never the id in clear. */
  clientKey(clientId: string): string {
    return this.#memoized(this.#clientKeys, clientId, `client|${this.#scope}|${clientId}`);
  }

  /** The counter key for a client address. */
  addressKey(address: string): string {
    return this.#memoized(this.#addressKeys, address, `addr|${address}`);
  }

  // Every request needs its clientId's and address's keys; the same few recur. Client ids and
  // addresses are not secrets (a secret is never a key here), so they may index a bounded memo.
  #memoized(memo: LRUCache<string, string>, input: string, message: string): string {
    const known = memo.get(input);
    if (known !== undefined) return known;
    const key = createHmac("sha256", this.#key).update(message).digest("base64url");
    memo.set(input, key);
    return key;
  }
}
