/**
 * The audit trail: who obtained tokens for which client, when, and from where. One JSON line per
 * token served (issued upstream, joined, from the cache, stale), per background refresh, and per
 * request refused, on a pino logger of its own so that its level (info) and its destination
 * (AUDIT_LOG) are not the service log's. A line is built from an allow-list of fields: the clientId
 * only as its HMAC (and in clear on request, for accepted credentials only), never a secret, a token
 * or anything the caller wrote besides the clientId.
 */
import { type DestinationStream, type Logger, pino } from "pino";
import type { AuditConfig } from "../config/index.js";
import { ServiceCode, ServiceError } from "../errors.js";
import type { RefreshAheadOutcome } from "../tokens/token-service.js";
import type { Caller, TokenProvider, TokenSource } from "../tokens/types.js";
import { AuditIdentifier } from "./audit-id.js";

/**
 * What happened. issued: fetched from Aspose for this request (source upstream) or by a concurrent
 * one (joined); served: from the cache; stale: from the cache because Aspose failed; refreshed: replaced
 * in the background; refused: the caller's credentials or its rate (the code says which); failed:
 * Aspose or this service failed.
 */
export type AuditOutcome = "issued" | "served" | "stale" | "refreshed" | "refused" | "failed";

/** One audit line's fields, besides pino's level, time, service and `"log":"audit"`. */
export interface AuditEntry {
  readonly outcome: AuditOutcome;
  /** How the token came (a TokenSource), or `refresh-ahead` for a background refresh. */
  readonly source?: TokenSource | "refresh-ahead";
  readonly requestId: string | undefined;
  /** The caller's address as the edge computed it (after TRUSTED_PROXIES). */
  readonly clientAddress: string | undefined;
  readonly clientIdHmac: string;
  /** Only with AUDIT_CLIENT_ID=clear, and only when Aspose accepted the credential. */
  readonly clientId?: string;
  /** The error code of a refused or failed request. */
  readonly code?: string;
  /** Seconds the caller was told to wait, when it was. */
  readonly retryAfter?: number;
}

// Refusals about this caller: its credentials, its attempts, its pair's rate at Aspose. The other
// codes are failures of Aspose or of this service.
const REFUSAL_CODES: ReadonlySet<string> = new Set<string>([
  ServiceCode.INVALID_CREDENTIALS,
  ServiceCode.TOO_MANY_ATTEMPTS,
  ServiceCode.UPSTREAM_RATE_LIMITED,
  ServiceCode.BAD_USER_INPUT,
]);

const SERVED: Readonly<Record<TokenSource, AuditOutcome>> = {
  upstream: "issued",
  joined: "issued",
  cache: "served",
  stale: "stale",
};

/** Writes audit lines; made once per process when AUDIT_LOG is not `off`. */
export class AuditLog {
  readonly #logger: Logger;
  readonly #ids: AuditIdentifier;
  readonly #clear: boolean;
  readonly #cacheHits: boolean;

  constructor(config: Pick<AuditConfig, "key" | "clientId" | "cacheHits">, destination: DestinationStream) {
    // No redaction paths: the fields are this module's allow-list, and pino's path redaction costs
    // about 25 µs a line (see the access log). Its own level: LOG_LEVEL=warn must not end the trail.
    this.#logger = pino(
      { level: "info", base: { service: "aspose-token-subgraph", log: "audit" } },
      destination,
    );
    this.#ids = new AuditIdentifier(config.key);
    this.#clear = config.clientId === "clear";
    this.#cacheHits = config.cacheHits;
  }

  /** A token reached the caller. */
  served(caller: Caller, clientId: string, source: TokenSource): void {
    if (source === "cache" && !this.#cacheHits) return;
    this.#accepted(SERVED[source], source, caller, clientId);
  }

  /** The caller's request ended in an error: refused (its credentials, its rate) or failed. */
  erred(caller: Caller, clientId: string, error: unknown): void {
    this.#logger.info({ ...failure(error), ...this.#who(caller, clientId) });
  }

  /** A background refresh, started by `caller`'s request, ended. */
  refreshedAhead(caller: Caller, clientId: string, outcome: RefreshAheadOutcome, error: unknown): void {
    if (outcome === "refreshed") this.#accepted("refreshed", "refresh-ahead", caller, clientId);
    else this.#logger.info({ ...failure(error), source: "refresh-ahead", ...this.#who(caller, clientId) });
  }

  #accepted(outcome: AuditOutcome, source: AuditEntry["source"], caller: Caller, clientId: string): void {
    const entry: AuditEntry = { outcome, source, ...this.#who(caller, clientId) };
    // Aspose accepted the pair, so this is a clientId: a refused one may be a secret typed in its place.
    this.#logger.info(this.#clear ? { ...entry, clientId } : entry);
  }

  #who(caller: Caller, clientId: string): Pick<AuditEntry, "requestId" | "clientAddress" | "clientIdHmac"> {
    return {
      requestId: caller.requestId,
      clientAddress: caller.clientAddress,
      clientIdHmac: this.#ids.of(clientId),
    };
  }
}

function failure(error: unknown): Pick<AuditEntry, "outcome" | "code" | "retryAfter"> {
  if (!(error instanceof ServiceError)) return { outcome: "failed", code: ServiceCode.INTERNAL_SERVER_ERROR };
  const { code } = error;
  const { retryAfter } = error.extensions;
  return {
    outcome: REFUSAL_CODES.has(code) ? "refused" : "failed",
    code,
    ...(typeof retryAfter === "number" ? { retryAfter } : {}),
  };
}

/** The audit log AUDIT_LOG asks for, writing to `destination`; none when off or not given. */
export function auditLog(
  config: AuditConfig,
  destination: DestinationStream | undefined,
): AuditLog | undefined {
  return config.destination.kind === "off" || destination === undefined
    ? undefined
    : new AuditLog(config, destination);
}

/** The token provider with every request's outcome written to the audit log (itself without one). */
export function audited(provider: TokenProvider, audit: AuditLog | undefined): TokenProvider {
  if (audit === undefined) return provider;
  return {
    issue: (request, caller) =>
      provider.issue(request, caller).then(
        (served) => {
          audit.served(caller, request.credential.clientId, served.source);
          return served;
        },
        (error: unknown) => {
          audit.erred(caller, request.credential.clientId, error);
          throw error;
        },
      ),
  };
}
