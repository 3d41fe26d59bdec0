/**
 * Redaction for the few places where foreign text (an upstream error body) must reach a log line.
 * Everything else is kept out of logs by construction and by pino's redact paths.
 */

const JWT_LIKE = /[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g;
const LONG_OPAQUE = /[A-Za-z0-9+/=_-]{40,}/g;

/** The credentials of one upstream call: what an upstream may echo back. */
export interface EchoedCredentials {
  readonly clientId: string;
  /** The credential handle's secret: this sanitiser is one of the few places that reads it. */
  exposeSecret(): string;
}

/**
 * The one way upstream text (an error body, an OAuth error code, a field name) reaches a log line:
 * truncated, with the call's own credentials and anything token-shaped removed, whatever its length.
 */
export function redactUpstream(text: string, credentials: EchoedCredentials, maxLength = 200): string {
  return redactText(text, [credentials.exposeSecret(), credentials.clientId], maxLength);
}

/** Truncates foreign text and removes the given secrets and anything token-shaped from it. */
export function redactText(text: string, secrets: readonly string[], maxLength = 200): string {
  let out = text.slice(0, maxLength * 4);
  for (const secret of secrets) {
    if (secret.length === 0) continue;
    for (const form of new Set([
      secret,
      encodeURIComponent(secret),
      new URLSearchParams({ s: secret }).toString().slice(2),
      // As a JSON string shows it: an upstream echoing into its JSON body escapes quotes and backslashes.
      JSON.stringify(secret).slice(1, -1),
    ])) {
      out = out.split(form).join("[REDACTED]");
    }
  }
  out = out.replace(JWT_LIKE, "[TOKEN]").replace(LONG_OPAQUE, "[OPAQUE]");
  // Control characters would let foreign text forge log lines.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  out = out.replace(/[\u0000-\u001f\u007f]/g, " ");
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out;
}

/** pino redact paths: values that must never reach a log line, wherever they appear. */
export const LOG_REDACT_PATHS: readonly string[] = [
  "clientSecret",
  "*.clientSecret",
  "client_secret",
  "*.client_secret",
  "accessToken",
  "*.accessToken",
  "access_token",
  "*.access_token",
  "variables",
  "*.variables",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  // A session cookie is a credential too; `{ headers: req.headers }` puts it one level down.
  "cookie",
  "*.cookie",
  "*.headers.cookie",
  "req.headers",
  "password",
  "*.password",
  // The router's proofs (graphql/perimeter/): the shared-secret header under Apollo's documented name
  // (ROUTER_SECRET_HEADER's default), and the perimeter's keys wherever a config object is logged.
  '["router-authorization"]',
  '*["router-authorization"]',
  '*.headers["router-authorization"]',
  // Up to a logged Config's depth (config.perimeter.sharedSecret).
  "sharedSecret",
  "*.sharedSecret",
  "*.*.sharedSecret",
  "hmacSecrets",
  "*.hmacSecrets",
  "*.*.hmacSecrets",
];
