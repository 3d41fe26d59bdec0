/**
 * The catalogue of every error code a client can see, documented once, and the coded errors this
 * service makes. Messages are generic and helpful; they never carry an upstream body, a URL, a
 * clientId or a secret. Nothing here imports from above it but the generated enum type: every room
 * that makes, classifies or reports an error names its code through this module.
 */
import type { ApolloServerErrorCode } from "@apollo/server/errors";
import { type ASTNode, GraphQLError, type GraphQLResolveInfo } from "graphql";
import type { AccessTokenErrorCode, PerimeterErrorCode } from "./__generated__/resolvers-types.js";

/**
 * The codes `accessToken` errors carry, documented for clients on `AccessTokenErrorCode` in
 * schema/token.graphql (the generated type keeps this list and the SDL in step).
 */
export const ServiceCode = {
  /** An invalid argument or operation, refused before anything was sent to Aspose. */
  BAD_USER_INPUT: "BAD_USER_INPUT",
  /** Aspose answered `invalid_client`: wrong secret, unknown id, swapped pair or a client not active yet. */
  INVALID_CREDENTIALS: "INVALID_CREDENTIALS",
  /** Too many failed attempts for this clientId or address, or the guess budget full; refused locally, `retryAfter` given. */
  TOO_MANY_ATTEMPTS: "TOO_MANY_ATTEMPTS",
  /**
   * Aspose answered 429 for this credential pair; `retryAfter` is its cool-down, remembered for the
   * pair and answered locally until it ends.
   */
  UPSTREAM_RATE_LIMITED: "UPSTREAM_RATE_LIMITED",
  /** Aspose could not be reached in time: timeouts, connection failures, 5xx after retries. */
  UPSTREAM_UNAVAILABLE: "UPSTREAM_UNAVAILABLE",
  /** Aspose answered something unusable: malformed, oversized, a redirect, an out-of-range lifetime. */
  UPSTREAM_BAD_RESPONSE: "UPSTREAM_BAD_RESPONSE",
  /** An unexpected failure inside this service; details are logged, never returned. */
  INTERNAL_SERVER_ERROR: "INTERNAL_SERVER_ERROR",
} as const satisfies { readonly [Code in AccessTokenErrorCode]: Code };

/**
 * Apollo Server's request-level codes that reach clients through formatError with a sanitised
 * message. (Apollo's BAD_USER_INPUT, for a variable of the wrong type, is the service's code above.)
 */
export const RequestCode = {
  /** The document is not valid GraphQL syntax. */
  GRAPHQL_PARSE_FAILED: "GRAPHQL_PARSE_FAILED",
  /** The document is valid syntax but not a valid operation against this schema. */
  GRAPHQL_VALIDATION_FAILED: "GRAPHQL_VALIDATION_FAILED",
  /** The HTTP request is not a GraphQL request: bad JSON, wrong content type, CSRF, body too large. */
  BAD_REQUEST: "BAD_REQUEST",
  /** An automatic persisted query's hash is unknown; the client must send the document. */
  PERSISTED_QUERY_NOT_FOUND: "PERSISTED_QUERY_NOT_FOUND",
  /** Persisted queries are not enabled on this server. */
  PERSISTED_QUERY_NOT_SUPPORTED: "PERSISTED_QUERY_NOT_SUPPORTED",
  /** The document holds several operations and none was named, or the named one is missing. */
  OPERATION_RESOLUTION_FAILURE: "OPERATION_RESOLUTION_FAILURE",
} as const satisfies { readonly [name: string]: `${ApolloServerErrorCode}` };

/** Codes the HTTP edge answers with before Apollo sees the request (GraphQL-shaped error bodies). */
export const HttpCode = {
  /** No route at this path; GraphQL is served at /graphql. */
  NOT_FOUND: "NOT_FOUND",
  /** A probe path asked with a method other than GET or HEAD. */
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
  /** The service is shutting down and the request could not finish before the deadline: 503, retry. */
  SHUTTING_DOWN: "SHUTTING_DOWN",
  /**
   * The body arrived slower than REQUEST_BODY_MIN_BYTES_PER_SECOND: 408, connection closed. Send it
   * again, whole.
   */
  REQUEST_TIMEOUT: "REQUEST_TIMEOUT",
  /**
   * Request bodies still arriving hold so much of REQUEST_BODY_BUDGET_BYTES that this one (over 4 KiB)
   * does not fit: 503 with Retry-After, connection closed, nothing of the body read. Retry shortly.
   */
  SERVER_BUSY: "SERVER_BUSY",
  /**
   * Through a trusted proxy, this client address already has MAX_CONNECTIONS_PER_ADDRESS requests in
   * progress: 429, connection closed. (A direct connection past the limit is closed unanswered.)
   */
  TOO_MANY_CONNECTIONS: "TOO_MANY_CONNECTIONS",
} as const;

/**
 * Codes of the perimeter (graphql/perimeter/), documented for clients on `PerimeterErrorCode` in
 * schema/service.graphql: a caller that is not the router when only the router may call, and
 * operations outside the trusted documents. The two document codes are Apollo Router's own
 * for its persisted query list, so a client that handles the router's handles these.
 */
export const PerimeterCode = {
  /**
   * Router-only access is configured and the request carries no valid proof that the router sent it
   * (shared secret, HMAC signature or client certificate): HTTP 403.
   */
  ROUTER_ONLY: "ROUTER_ONLY",
  /** A persisted-query id (or `documentId`) that is not in the trusted-documents manifest. */
  PERSISTED_QUERY_NOT_IN_LIST: "PERSISTED_QUERY_NOT_IN_LIST",
  /** An operation whose text is not, character for character, one of the trusted documents. */
  QUERY_NOT_IN_SAFELIST: "QUERY_NOT_IN_SAFELIST",
} as const satisfies { readonly [Code in PerimeterErrorCode]: Code };

/**
 * Labels the HTTP edge gives a request's outcome in its log line and metrics, where no body carries
 * a code (the client sees the status, or BAD_REQUEST in the body). Any code above is an outcome too.
 */
export const OutcomeLabel = {
  /** Answered without error. */
  OK: "ok",
  /** The body was over the limit: 413, body code BAD_REQUEST. */
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  /** The client went away before its body was read. */
  ABORTED: "ABORTED",
  /** Apollo refused the HTTP method (a GET mutation): 405, body code BAD_REQUEST. */
  METHOD_NOT_ALLOWED: "METHOD_NOT_ALLOWED",
} as const;

/** Any code a client can find in `extensions.code`. */
export type ClientErrorCode =
  | (typeof ServiceCode)[keyof typeof ServiceCode]
  | (typeof RequestCode)[keyof typeof RequestCode]
  | (typeof HttpCode)[keyof typeof HttpCode]
  | (typeof PerimeterCode)[keyof typeof PerimeterCode];

/** Any outcome label of a request log line or metric. */
export type Outcome = ClientErrorCode | (typeof OutcomeLabel)[keyof typeof OutcomeLabel];

const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set<string>([
  ...Object.values(ServiceCode),
  ...Object.values(RequestCode),
  ...Object.values(HttpCode),
  ...Object.values(PerimeterCode),
]);

/** Whether a value read off a formatted error is one of the catalogue's codes. */
export function isClientErrorCode(code: unknown): code is ClientErrorCode {
  return typeof code === "string" && CLIENT_ERROR_CODES.has(code);
}

// Aspose failing: unreachable, rate-limiting, answering nonsense. INVALID_CREDENTIALS is an answer
// (Aspose is up), and a local refusal (TOO_MANY_ATTEMPTS) never reached it.
const UPSTREAM_FAULT_CODES: ReadonlySet<string> = new Set<string>([
  ServiceCode.UPSTREAM_UNAVAILABLE,
  ServiceCode.UPSTREAM_RATE_LIMITED,
  ServiceCode.UPSTREAM_BAD_RESPONSE,
]);

/** Whether an error says Aspose failed, rather than the caller or this service. */
export function isUpstreamFault(error: unknown): error is ServiceError {
  return error instanceof ServiceError && UPSTREAM_FAULT_CODES.has(error.code);
}

/** Whether a request's outcome is a failure on this side of the wire: Aspose's, or an internal one. */
export function isServerSideFailure(outcome: Outcome): boolean {
  return outcome === ServiceCode.INTERNAL_SERVER_ERROR || UPSTREAM_FAULT_CODES.has(outcome);
}

/** Apollo's request-level codes whose (sanitised) message is about the request's shape. */
export const REQUEST_CODES: ReadonlySet<string> = new Set<string>([
  ...Object.values(RequestCode),
  ServiceCode.BAD_USER_INPUT,
]);

/** A GraphQLError whose code is one of the documented `AccessTokenErrorCode`s. */
export class ServiceError extends GraphQLError {
  readonly code: AccessTokenErrorCode;

  constructor(
    code: AccessTokenErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
    nodes?: readonly ASTNode[],
    path?: readonly (string | number)[],
  ) {
    // An expected outcome, not a bug: no stack trace to capture. Restored at once; construction is
    // synchronous. Measured by `npm run bench:ab` against bench/ablations/stack-trace.patch: CPU per
    // request ×0.78 on the locked-out path with the toggle (the hit, which makes no error: ×1.01).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, { nodes, path, extensions: { ...extensions, code } });
    Error.stackTraceLimit = limit;
    this.name = "ServiceError";
    this.code = code;
  }
}

/** A refused argument or operation; nothing was sent upstream. */
export function badUserInput(
  message: string,
  extensions: Record<string, unknown> = {},
  nodes?: readonly ASTNode[],
): ServiceError {
  return new ServiceError(ServiceCode.BAD_USER_INPUT, message, extensions, nodes);
}

/** Aspose answered `invalid_client`. Unknown id and wrong secret look the same by design. */
export function invalidCredentials(): ServiceError {
  return new ServiceError(
    ServiceCode.INVALID_CREDENTIALS,
    "Aspose rejected these client credentials. Check that clientId and clientSecret are not swapped, " +
      "that the secret is current, and note that a newly created client can take a few minutes to become active.",
  );
}

/** Too many failed attempts; refused locally. */
export function tooManyAttempts(retryAfterSeconds: number): ServiceError {
  return new ServiceError(
    ServiceCode.TOO_MANY_ATTEMPTS,
    `Too many failed credential attempts. Try again in ${retryAfterSeconds} seconds.`,
    { retryAfter: retryAfterSeconds },
  );
}

/** Aspose kept rate-limiting after retries. */
export function upstreamRateLimited(retryAfterSeconds: number | undefined): ServiceError {
  return new ServiceError(
    ServiceCode.UPSTREAM_RATE_LIMITED,
    retryAfterSeconds === undefined
      ? "Aspose is rate-limiting token requests. Try again later."
      : `Aspose is rate-limiting token requests. Try again in ${retryAfterSeconds} seconds.`,
    retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds },
  );
}

/** Aspose could not be reached in time, or kept failing with 5xx. */
export function upstreamUnavailable(retryAfterSeconds?: number): ServiceError {
  return new ServiceError(
    ServiceCode.UPSTREAM_UNAVAILABLE,
    retryAfterSeconds === undefined
      ? "The Aspose token service is unavailable or did not answer in time. Try again later."
      : `The Aspose token service is unavailable or did not answer in time. Try again in ${retryAfterSeconds} seconds.`,
    retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds },
  );
}

/** Aspose answered something unusable, or a 400 that means this service is misconfigured. */
export function upstreamBadResponse(): ServiceError {
  return new ServiceError(
    ServiceCode.UPSTREAM_BAD_RESPONSE,
    "The Aspose token service gave an answer this service cannot use. The operator has been told in the logs.",
  );
}

/**
 * Gives a coded error its field's location and path. graphql-js would otherwise wrap it in a new
 * GraphQLError with a fresh stack trace on every refusal; an already located error passes as it is.
 */
export function locatedAt(error: unknown, info: GraphQLResolveInfo): unknown {
  if (!(error instanceof ServiceError) || error.path !== undefined) return error;
  const { code: _code, ...extensions } = error.extensions;
  const path: (string | number)[] = [];
  for (let step: GraphQLResolveInfo["path"] | undefined = info.path; step !== undefined; step = step.prev) {
    path.unshift(step.key);
  }
  return new ServiceError(error.code, error.message, extensions, info.fieldNodes, path);
}
