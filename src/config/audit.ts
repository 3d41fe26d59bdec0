import { hkdfSync } from "node:crypto";
import { isAbsolute } from "node:path";
import { text } from "./formats.js";
import { type Env, flag, oneOf } from "./parse.js";
import { section } from "./section.js";
import type { TokensConfig } from "./tokens.js";

/** Where audit lines go: stdout beside the service log, stderr, a file of their own, or nowhere. */
export type AuditDestination =
  | { readonly kind: "stdout" | "stderr" | "off" }
  | { readonly kind: "file"; readonly path: string };

/** The audit trail: who obtained tokens for which client, when, from where. */
export interface AuditConfig {
  readonly destination: AuditDestination;
  /** The key of the clientId's HMAC in every audit line (`npm run audit:id` computes the same). */
  readonly key: Buffer;
  /**
   * explicit: AUDIT_KEY; derived: from TOKEN_CACHE_KEY (stable across replicas and restarts);
   * per-process: neither is set, so no one can compute an identifier to search for.
   */
  readonly keySource: "explicit" | "derived" | "per-process";
  /** `clear` adds the clientId itself to the lines of credentials Aspose accepted. */
  readonly clientId: "hmac" | "clear";
  /** Whether a token served from the cache writes a line (every other outcome always does). */
  readonly cacheHits: boolean;
}

/**
 * The HKDF label that makes the audit key from TOKEN_CACHE_KEY: a key of its own, so an identifier in
 * the audit log (shipped to a SIEM, kept for years) matches nothing keyed for the cache or the
 * lockout counters, and is the same on every replica that shares the cache key.
 */
export const AUDIT_KEY_LABEL = "aspose-token-subgraph audit clientId v1";

const BASE64_KEY = {
  means: "at least 32 random bytes, base64-encoded",
  read: (value: string): Buffer | undefined => {
    const key = Buffer.from(value, "base64");
    return key.length >= 32 ? key : undefined;
  },
};

const DESTINATION = {
  means: "stdout, stderr, off or an absolute file path",
  read: (value: string): AuditDestination | undefined => {
    if (value === "stdout" || value === "stderr" || value === "off") return { kind: value };
    return isAbsolute(value) ? { kind: "file", path: value } : undefined;
  },
};

/** The variables of the audit log. */
export const AUDIT = section(
  "Audit log",
  "The audit trail of token requests: one JSON line per token issued, refreshed in the background, served from the cache or stale, and per request refused (invalid credentials, lockouts, rate limits, upstream failures), with the time, request id, client address, outcome and the clientId as an HMAC. It never holds a secret or a token. What a line holds and how to find a client's lines is in [audit](audit.md).",
  {
    AUDIT_LOG: text({
      format: DESTINATION,
      default: "stdout",
      does: 'Where audit lines go: `stdout` (beside the service log, each line marked `"log":"audit"`), `stderr`, `off`, or the absolute path of a file they are appended to.',
      details:
        "stdout is what a container runtime collects, and the image runs with a read-only root filesystem, so a file needs a mounted volume. The audit logger has its own level (info): `LOG_LEVEL=warn` does not silence it.",
    }),
    AUDIT_KEY: text({
      format: BASE64_KEY,
      secret: true,
      unset: "derived from `TOKEN_CACHE_KEY` (HKDF-SHA256); a per-process key when that is unset too",
      does: "The key of the HMAC-SHA256 that stands for the clientId in audit lines; make one with `openssl rand -base64 32`.",
      details:
        "Set it on every replica (or rely on a shared `TOKEN_CACHE_KEY`) so a client has one identifier everywhere; set it explicitly to keep identifiers stable when `TOKEN_CACHE_KEY` is rotated. `npm run -s audit:id -- <clientId>` computes an identifier with the same key.",
    }),
    AUDIT_CLIENT_ID: oneOf({
      allowed: ["hmac", "clear"],
      default: "hmac",
      does: "`clear` adds the clientId in clear (`clientId`) beside its HMAC (`clientIdHmac`), on the lines of credentials Aspose accepted.",
      details:
        "Refused requests keep the HMAC alone even then: a caller who swapped clientId and clientSecret would otherwise put the secret in the audit log.",
    }),
    AUDIT_CACHE_HITS: flag({
      default: true,
      does: "Whether a token served from the cache writes an audit line.",
      details:
        "On by default: a caller served from the cache obtained a token too, and without these lines a second holder of a credential would never appear in the trail. `off` leaves a busy service's trail to its fetches, refreshes and refusals, at the price of that answer.",
    }),
  },
);

const v = AUDIT.variables;

/** The audit section from the environment; the key falls back to one derived from the cache key. */
export function auditConfig(env: Env, tokens: Pick<TokensConfig, "key" | "keySource">): AuditConfig {
  const explicit = v.AUDIT_KEY.read(env);
  return {
    destination: v.AUDIT_LOG.read(env),
    ...(explicit === undefined
      ? {
          key: Buffer.from(hkdfSync("sha256", tokens.key, Buffer.alloc(0), AUDIT_KEY_LABEL, 32)),
          keySource: tokens.keySource === "explicit" ? ("derived" as const) : ("per-process" as const),
        }
      : { key: explicit, keySource: "explicit" as const }),
    clientId: v.AUDIT_CLIENT_ID.read(env),
    cacheHits: v.AUDIT_CACHE_HITS.read(env),
  };
}
