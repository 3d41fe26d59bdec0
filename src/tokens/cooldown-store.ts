/**
 * Aspose's per-credential cool-downs: after a 429 for a client_id + client_secret pair, when this
 * service may call Aspose with that pair again. Kept under the credential's lookup key (the HMAC of
 * the token URL, clientId and secret under the server's key), never the clientId or secret in clear.
 * Memory per process, or shared through the store so that a pair Aspose told one replica to leave alone
 * is left alone by all.
 */
export interface CooldownStore {
  /** When the cool-down of this lookup key ends (epoch ms), or undefined when there is none now. */
  until(lookupKey: string): Promise<number | undefined>;
  /** Remembers a cool-down that ends at `untilMs` (bounded by {@link MAX_COOLDOWN_SECONDS}). */
  remember(lookupKey: string, untilMs: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * The longest cool-down remembered, whatever Aspose's Retry-After says. Aspose documents 600 s for a
 * pair after five failed requests; 15 minutes honours that with room, while a broken or hostile
 * upstream (or a forged shared-store entry) cannot shut a credential out of this service for days.
 */
export const MAX_COOLDOWN_SECONDS = 900;
