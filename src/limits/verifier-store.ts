/**
 * Known-good credentials. A verifier is remembered when Aspose accepts a credential and
 * dropped when Aspose rejects it; a request whose credential has one is never held back by a lockout,
 * so an attacker who knows a clientId (every token carries it in clear) cannot lock its owner out.
 *
 * A verifier is keyed by the credential's lookup key: the HMAC, under the server's key, of the token
 * URL, clientId and secret. Never the secret, useless without the server key, and only a caller
 * holding that exact secret can match it. A separate HMAC would add nothing: it would be computed from
 * the same inputs under the same key, and the token cache already stores entries under this one.
 */
export interface VerifierStore {
  /** Whether Aspose accepted the credential with this lookup key within the verifier's lifetime. */
  has(lookupKey: string): Promise<boolean>;
  /**
   * Aspose accepted the credential: remembered for the verifier lifetime, or until `coverUntilMs` if
   * that is later (the token it proved, so a long-lived cached token never outlives its verifier).
   */
  remember(lookupKey: string, coverUntilMs: number): Promise<void>;
  /** Aspose rejected the credential: it is unverified from now on. */
  forget(lookupKey: string): Promise<void>;
  close(): Promise<void>;
}
