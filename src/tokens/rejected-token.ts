import { createHash, timingSafeEqual } from "node:crypto";

/**
 * A token a caller says Aspose refused, kept only as its SHA-256: the report travels to the token
 * service and into the per-request loader's key without the bearer token itself.
 */
export class RejectedToken {
  readonly #digest: Buffer;

  private constructor(digest: Buffer) {
    this.#digest = digest;
  }

  /** From the token as the caller sent it. */
  static of(token: string): RejectedToken {
    return new RejectedToken(sha256(token));
  }

  /**
   * Whether `accessToken` is the one reported. Both sides are hashed and compared in constant time, so the
   * time taken says nothing of how much of a guess matched the cached token.
   */
  is(accessToken: string): boolean {
    return timingSafeEqual(sha256(accessToken), this.#digest);
  }

  /** The digest as text, for keys that must tell two reports apart (never the token). */
  get key(): string {
    return this.#digest.toString("base64url");
  }
}

function sha256(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
