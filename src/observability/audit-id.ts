import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { LRUCache } from "lru-cache";

/** The prefix of every audit identifier: the algorithm, as Vault's audit log writes it. */
export const AUDIT_ID_PREFIX = "hmac-sha256:";

/**
 * The identifier that stands for a clientId in the audit log: HMAC-SHA256 of the clientId's UTF-8
 * bytes under the audit key, in hex. Not reversible and useless without the key, yet anyone holding
 * the key can compute it for a clientId they know (`npm run -s audit:id`, or `openssl dgst -sha256
 * -mac HMAC`) and search for it.
 */
export class AuditIdentifier {
  // A KeyObject: Node prepares a Buffer key afresh on every createHmac (see CredentialKeyer).
  readonly #key: KeyObject;
  // Every audited request needs its clientId's identifier, and the same few recur; a clientId is not
  // a secret, so it may index a bounded memo, as the credential keys' memo does. Measured by
  // `npm run bench:ab` against bench/ablations/audit-memo.patch: CPU per request ×0.950 on the hit.
  readonly #memo = new LRUCache<string, string>({ max: 10_000 });

  constructor(key: Buffer) {
    this.#key = createSecretKey(key);
  }

  /** `hmac-sha256:<hex>` for this clientId. */
  of(clientId: string): string {
    const known = this.#memo.get(clientId);
    if (known !== undefined) return known;
    const id = AUDIT_ID_PREFIX + createHmac("sha256", this.#key).update(clientId, "utf8").digest("hex");
    this.#memo.set(clientId, id);
    return id;
  }
}
