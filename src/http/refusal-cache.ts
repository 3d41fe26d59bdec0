import { createHash, randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Reply } from "./reply.js";

/**
 * Remembers the answer to documents that failed parsing or validation. Apollo caches only documents
 * that passed, so a client (or an attacker) repeating an over-limit or malformed operation would pay
 * for a full parse and validation every time; refusing must stay cheaper than serving. Those answers
 * depend on the document alone (schema and limits are fixed for the process), never on variables.
 * Keys are salted SHA-256 digests (a document may hold an inline secret, so it is never a key in
 * clear).
 *
 * Most documents were never refused, so a lookup first asks whether any refused document has the same
 * length and hashes only then: the digest cost every cache hit 2.2 µs alone (bench:breakdown) and
 * about 5 % of its CPU under load (`npm run bench:ab`, quick: CPU ×0.95, req/s ×1.05 without it); a
 * document of a length never refused now costs a Map lookup.
 * A client sending refused documents of the valid one's length pays the digest again, no more.
 */
export class RefusalCache {
  readonly #salt = randomBytes(32);
  readonly #replies: LRUCache<string, { readonly reply: Reply; readonly length: number }>;
  /** How many remembered documents have each length (in UTF-16 units). */
  readonly #lengths = new Map<number, number>();

  constructor(maxEntries = 1000) {
    this.#replies = new LRUCache({
      max: maxEntries,
      dispose: (entry) => this.#count(entry.length, -1),
    });
  }

  /** The answer remembered for this document, if it was refused before. */
  lookup(document: string): Reply | undefined {
    if (!this.#lengths.has(document.length)) return undefined;
    return this.#replies.get(this.#keyOf(document))?.reply;
  }

  /** Remembers the refusal of this document. */
  remember(document: string, reply: Reply): void {
    const key = this.#keyOf(document);
    if (this.#replies.has(key)) return;
    this.#count(document.length, 1);
    this.#replies.set(key, { reply, length: document.length });
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
