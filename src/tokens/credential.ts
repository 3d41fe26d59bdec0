import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { LRUCache } from "lru-cache";

/**
 * One caller's credentials after parsing: every key derived once, and the secret held privately.
 * Everything past the parser carries this handle; the secret in clear is read only where the form
 * body is built (the issuer), where sealing keys are derived (a shared store) and where an upstream
 * answer is scrubbed of it before a log line (observability/redact.ts), through `exposeSecret()`, so a
 * search for that name finds every place that sees it.
 */
export class Credential {
  readonly clientId: string;
  /** HMAC of the token URL, clientId and clientSecret: the cache key, never reversible. */
  readonly lookupKey: string;
  /** HMAC of the clientId alone: the brute-force counter key. */
  readonly clientKey: string;
  readonly #secret: string;

  constructor(clientId: string, secret: string, lookupKey: string, clientKey: string) {
    this.clientId = clientId;
    this.#secret = secret;
    this.lookupKey = lookupKey;
    this.clientKey = clientKey;
  }

  /** The clientSecret in clear: for the upstream form body, sealing-key derivation and redaction only. */
  exposeSecret(): string {
    return this.#secret;
  }

  /** Never the secret, whatever serialises this object (a logger, JSON.stringify, util.inspect). */
  toJSON(): { clientId: string } {
    return { clientId: this.clientId };
  }

  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return `Credential(${this.clientId.length} char id)`;
  }
}

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
  readonly #clientKeys = new LRUCache<string, string>({ max: 10_000 });
  readonly #addressKeys = new LRUCache<string, string>({ max: 10_000 });

  constructor(key: Buffer, tokenUrl: string) {
    this.#key = createSecretKey(key);
    this.#scope = `${tokenUrl.length}:${tokenUrl}`;
  }

  /** The handle for validated credentials; the only place the pair is keyed. */
  credential(clientId: string, clientSecret: string): Credential {
    const lookupKey = createHmac("sha256", this.#key)
      .update(`cred|${this.#scope}|${clientId.length}:${clientId}|${clientSecret}`)
      .digest("base64url");
    return new Credential(clientId, clientSecret, lookupKey, this.clientKey(clientId));
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
  // Measured by `npm run bench:ab` against bench/ablations/key-memo.patch (an HMAC every time): CPU
  // per request ×0.93 on the cache hit and on the locked-out path with the memo.
  #memoized(memo: LRUCache<string, string>, input: string, message: string): string {
    const known = memo.get(input);
    if (known !== undefined) return known;
    const key = createHmac("sha256", this.#key).update(message).digest("base64url");
    memo.set(input, key);
    return key;
  }
}
