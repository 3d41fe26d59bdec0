import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Reply } from "./reply.js";

/**
 * Remembers the answer to documents that failed parsing or validation. Apollo caches only documents
 * that passed, so a client (or an attacker) repeating an over-limit or malformed operation would pay
 * for a full parse and validation every time; refusing must stay cheaper than serving. Those answers
 * depend on the document alone (schema and limits are fixed for the process), never on variables.
 * Keys are salted SHA-256 digests (a document may hold an inline secret): this runs on every request,
 * and a Buffer-keyed HMAC costs about 19 us against under 2 us for the digest (measured).
 */
export class RefusalCache {
  readonly #salt = randomBytes(32);
  readonly #replies: LRUCache<string, Reply>;

  constructor(maxEntries = 1000) {
    this.#replies = new LRUCache({ max: maxEntries });
  }

  /** The cache key for a document's text. */
  keyOf(document: string): string {
    return createHash("sha256").update(this.#salt).update(document).digest("base64url");
  }

  get(key: string): Reply | undefined {
    return this.#replies.get(key);
  }

  set(key: string, reply: Reply): void {
    this.#replies.set(key, reply);
  }
}
