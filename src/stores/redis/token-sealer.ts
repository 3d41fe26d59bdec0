import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from "node:crypto";
import type { Credential } from "../../tokens/credential.js";
import type { IssuedToken } from "../../tokens/types.js";

// The format byte leads every sealed entry, so a later format can be told apart and refused cleanly.
const FORMAT_V1 = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;
const SALT_LABEL = "aspose-token-subgraph/redis-token-cache/salt/v1";
const HKDF_INFO = Buffer.from("aspose-token-subgraph/redis-token-cache/aes-256-gcm/v1", "utf8");
const AAD_LABEL = "aspose-token-subgraph/redis-token-cache/entry/v1|";

/**
 * Seals cached tokens for a store others can read (Redis). Each entry is AES-256-GCM encrypted under a
 * key derived from the caller's own clientId and clientSecret (HKDF-SHA256, salted with a secret
 * derived from TOKEN_CACHE_KEY), so a dump of the store yields no usable token, and only a caller who
 * holds the secret, on a server that holds TOKEN_CACHE_KEY, can open it. The additional data binds the
 * ciphertext to its lookup key: an entry copied under another key does not open.
 */
export class TokenSealer {
  readonly #salt: Buffer;

  /** `serverKey` is TOKEN_CACHE_KEY; only a derived value is kept. */
  constructor(serverKey: Buffer) {
    this.#salt = createHmac("sha256", serverKey).update(SALT_LABEL).digest();
  }

  /** The sealed entry (base64url text) for `token`, stored under the credential's lookup key. */
  seal(credential: Credential, token: IssuedToken): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.#entryKey(credential), iv, {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(aad(credential.lookupKey));
    const plaintext = Buffer.from(
      JSON.stringify({
        accessToken: token.accessToken,
        tokenType: token.tokenType,
        issuedAtMs: token.issuedAtMs,
        expiresAtMs: token.expiresAtMs,
        scopes: token.scopes,
        defaultStorage: token.defaultStorage,
      }),
      "utf8",
    );
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(FORMAT_V1), iv, cipher.getAuthTag(), ciphertext]).toString("base64url");
  }

  /**
   * The token in a sealed entry, or undefined when it does not open: other credentials, another
   * server key, another lookup key, tampering, or not an entry at all. Callers treat all of these as a
   * miss, so the reason is not told apart.
   */
  open(credential: Credential, sealed: string): IssuedToken | undefined {
    const bytes = Buffer.from(sealed, "base64url");
    if (bytes.length <= HEADER_BYTES || bytes[0] !== FORMAT_V1) return undefined;
    const iv = bytes.subarray(1, 1 + IV_BYTES);
    const tag = bytes.subarray(1 + IV_BYTES, HEADER_BYTES);
    let plaintext: string;
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.#entryKey(credential), iv, {
        authTagLength: TAG_BYTES,
      });
      decipher.setAAD(aad(credential.lookupKey));
      decipher.setAuthTag(tag);
      plaintext = Buffer.concat([decipher.update(bytes.subarray(HEADER_BYTES)), decipher.final()]).toString(
        "utf8",
      );
    } catch {
      return undefined;
    }
    return parseToken(plaintext);
  }

  // One of the places the secret is read in clear: the sealing key is derived from it.
  #entryKey(credential: Credential): Buffer {
    // Byte lengths are prefixed so that ("ab","c") and ("a","bc") derive different keys.
    const id = Buffer.from(credential.clientId, "utf8");
    const secret = Buffer.from(credential.exposeSecret(), "utf8");
    const ikm = Buffer.concat([uint32(id.length), id, uint32(secret.length), secret]);
    return Buffer.from(hkdfSync("sha256", ikm, this.#salt, HKDF_INFO, 32));
  }
}

function aad(lookupKey: string): Buffer {
  return Buffer.from(`${AAD_LABEL}${lookupKey}`, "utf8");
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

// Authenticated, so the shape is ours; checked anyway, so an entry from a future format is a miss, not
// a malformed token served to a caller.
function parseToken(plaintext: string): IssuedToken | undefined {
  let value: unknown;
  try {
    value = JSON.parse(plaintext);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const record = value as Record<string, unknown>;
  const { accessToken, tokenType, issuedAtMs, expiresAtMs, scopes, defaultStorage } = record;
  if (
    typeof accessToken !== "string" ||
    typeof tokenType !== "string" ||
    typeof issuedAtMs !== "number" ||
    typeof expiresAtMs !== "number" ||
    !Array.isArray(scopes) ||
    !scopes.every((scope) => typeof scope === "string") ||
    (defaultStorage !== null && typeof defaultStorage !== "string")
  ) {
    return undefined;
  }
  return { accessToken, tokenType, issuedAtMs, expiresAtMs, scopes, defaultStorage };
}
