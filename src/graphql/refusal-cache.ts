import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Reply } from "../http/exchange.js";
import { type AnswerMediaType, answerMediaType } from "./status-codes.js";

interface Refused {
  /** The document's length in UTF-16 units, released from the length count when evicted. */
  readonly length: number;
  /** The answer per media type: status and content type follow the client's Accept header. */
  readonly replies: Partial<Record<AnswerMediaType, Reply>>;
}

/**
 * Remembers the answer to documents that failed parsing or validation. Apollo caches only documents
 * that passed, so a client (or an attacker) repeating an over-limit or malformed operation would pay
 * for a full parse and validation every time; refusing must stay cheaper than serving. Those answers
 * depend on the document and the Accept header alone (schema and limits are fixed for the process),
 * never on variables. Keys are salted SHA-256 digests (a document may hold an inline secret, so it is
 * never a key in clear).
 *
 * Most documents were never refused, so a lookup first asks whether any refused document has the same
 * length, and only then hashes the document and negotiates Accept. Measured by `npm run bench:ab`
 * against bench/ablations/refusal-length.patch (the digest on every lookup): CPU per request ×0.95 on
 * the cache hit with the length check. A client sending refused documents of the valid one's length
 * pays the digest again, no more.
 */
export class RefusalCache {
  readonly #salt = randomBytes(32);
  readonly #refused: LRUCache<string, Refused>;
  /** How many remembered documents have each length. */
  readonly #lengths = new Map<number, number>();

  constructor(maxEntries = 1000) {
    this.#refused = new LRUCache({ max: maxEntries, dispose: (entry) => this.#count(entry.length, -1) });
  }

  /** The answer remembered for this document and Accept header, if it was refused before. */
  lookup(document: string, accept: string | undefined): Reply | undefined {
    if (!this.#lengths.has(document.length)) return undefined;
    return this.#refused.get(this.#keyOf(document))?.replies[answerMediaType(accept)];
  }

  /** Remembers the refusal of this document, as answered for this Accept header. */
  remember(document: string, accept: string | undefined, reply: Reply): void {
    const key = this.#keyOf(document);
    let entry = this.#refused.get(key);
    if (entry === undefined) {
      entry = { length: document.length, replies: {} };
      this.#count(document.length, 1);
      this.#refused.set(key, entry);
    }
    entry.replies[answerMediaType(accept)] = reply;
  }

  #keyOf(document: string): string {
    return createHash("sha256").update(this.#salt).update(document).digest("base64url");
  }

  #count(length: number, change: number): void {
    const count = (this.#lengths.get(length) ?? 0) + change;
    if (count > 0) this.#lengths.set(length, count);
    else this.#lengths.delete(length);
  }
}
