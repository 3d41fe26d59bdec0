import { HTTPError, RequestError } from "got";
import type { Logger } from "pino";
import {
  invalidCredentials,
  type ServiceError,
  upstreamBadResponse,
  upstreamRateLimited,
  upstreamUnavailable,
} from "../errors.js";
import { redactUpstream } from "../observability/redact.js";
import type { Credential } from "../tokens/credential.js";
import { retryAfterSeconds } from "./retry-after.js";
import { parseOAuthError } from "./wire.js";

/** The outcome class of one upstream attempt, as metrics count it. */
export type UpstreamOutcome = "2xx" | "3xx" | "4xx" | "429" | "5xx" | "network" | "oversized";

// The identity server's 400 codes that mean this service sent a wrong request: the caller cannot fix
// them, the operator must (wrong ASPOSE_TOKEN_PATH or a proxy rewriting the body).
const MISCONFIGURATION_ERRORS = new Set([
  "invalid_request",
  "unsupported_grant_type",
  "invalid_scope",
  "unauthorized_client",
  "invalid_grant",
]);

/** Translates a got failure once, here, into the documented codes; logs what the operator needs. */
export function translateFailure(
  error: unknown,
  credential: Credential,
  logger: Logger,
): ServiceError | unknown {
  if (error instanceof HTTPError) {
    const status = error.response.statusCode;
    const rawBody = typeof error.response.body === "string" ? error.response.body : "";
    const oauthError = parseOAuthError(rawBody)?.error;
    if ((status === 400 || status === 401) && oauthError === "invalid_client") return invalidCredentials();
    if (status === 429) return upstreamRateLimited(retryAfterSeconds(error.response.headers["retry-after"]));
    if (status >= 500) {
      logger.warn({ upstreamStatus: status }, "Aspose token endpoint answered with a server error");
      return upstreamUnavailable();
    }
    // A 404 or 405 means the path is wrong, as surely as an OAuth error about the request's shape.
    const misconfigured =
      status === 404 ||
      status === 405 ||
      (oauthError !== undefined && MISCONFIGURATION_ERRORS.has(oauthError));
    logger.error(
      {
        upstreamStatus: status,
        upstreamError: oauthError === undefined ? undefined : redactUpstream(oauthError, credential, 64),
        upstreamBody: redactUpstream(rawBody, credential),
      },
      misconfigured
        ? "Aspose refused the token request as malformed: check ASPOSE_BASE_URL and ASPOSE_TOKEN_PATH"
        : "Aspose token endpoint gave an unexpected answer",
    );
    return upstreamBadResponse();
  }
  if (error instanceof RequestError || isAbort(error)) {
    logger.warn({ upstreamErrorCode: errorCode(error) }, "Aspose token endpoint unreachable");
    return upstreamUnavailable();
  }
  return error;
}

/** The outcome class of a failed attempt. */
export function outcomeOf(error: unknown): UpstreamOutcome {
  return error instanceof HTTPError ? outcomeOfStatus(error.response.statusCode) : "network";
}

/** The outcome class of an answered attempt. */
export function outcomeOfStatus(status: number): UpstreamOutcome {
  if (status === 429) return "429";
  if (status >= 500) return "5xx";
  if (status >= 400) return "4xx";
  if (status >= 300) return "3xx";
  return "2xx";
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || error.name === "TimeoutError");
}

function errorCode(error: unknown): string {
  if (error instanceof Error && "code" in error && typeof error.code === "string")
    return error.code.slice(0, 40);
  return error instanceof Error ? error.name.slice(0, 40) : "unknown";
}

/** The HTTP status of a failed attempt, when it got one. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof HTTPError ? error.response.statusCode : undefined;
}

/** How many times got retried before this failure. */
export function retriesOf(error: unknown): number {
  return error instanceof RequestError ? (error.request?.retryCount ?? 0) : 0;
}
