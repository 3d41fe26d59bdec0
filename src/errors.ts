/**
 * Every error code the API returns, made in one place. Messages are generic and helpful; they never
 * carry an upstream body, a URL, a clientId or a secret.
 */
import { type ASTNode, GraphQLError, type GraphQLResolveInfo } from "graphql";
import type { AccessTokenErrorCode } from "./__generated__/resolvers-types.js";

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
    // An expected outcome, not a bug: no stack trace to capture (the costliest part of a refusal,
    // measured on the locked-out path). Restored at once; construction is synchronous.
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
  return new ServiceError("BAD_USER_INPUT", message, extensions, nodes);
}

/** Aspose answered `invalid_client`. Unknown id and wrong secret look the same by design. */
export function invalidCredentials(): ServiceError {
  return new ServiceError(
    "INVALID_CREDENTIALS",
    "Aspose rejected these client credentials. Check that clientId and clientSecret are not swapped, " +
      "that the secret is current, and note that a newly created client can take a few minutes to become active.",
  );
}

/** Too many failed attempts; refused locally. */
export function tooManyAttempts(retryAfterSeconds: number): ServiceError {
  return new ServiceError(
    "TOO_MANY_ATTEMPTS",
    `Too many failed credential attempts. Try again in ${retryAfterSeconds} seconds.`,
    { retryAfter: retryAfterSeconds },
  );
}

/** Aspose kept rate-limiting after retries. */
export function upstreamRateLimited(retryAfterSeconds: number | undefined): ServiceError {
  return new ServiceError(
    "UPSTREAM_RATE_LIMITED",
    retryAfterSeconds === undefined
      ? "Aspose is rate-limiting token requests. Try again later."
      : `Aspose is rate-limiting token requests. Try again in ${retryAfterSeconds} seconds.`,
    retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds },
  );
}

/** Aspose could not be reached in time, or kept failing with 5xx. */
export function upstreamUnavailable(retryAfterSeconds?: number): ServiceError {
  return new ServiceError(
    "UPSTREAM_UNAVAILABLE",
    retryAfterSeconds === undefined
      ? "The Aspose token service is unavailable or did not answer in time. Try again later."
      : `The Aspose token service is unavailable or did not answer in time. Try again in ${retryAfterSeconds} seconds.`,
    retryAfterSeconds === undefined ? {} : { retryAfter: retryAfterSeconds },
  );
}

/** Aspose answered something unusable, or a 400 that means this service is misconfigured. */
export function upstreamBadResponse(): ServiceError {
  return new ServiceError(
    "UPSTREAM_BAD_RESPONSE",
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
