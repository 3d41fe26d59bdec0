import { unwrapResolverError } from "@apollo/server/errors";
import type { GraphQLError, GraphQLFormattedError } from "graphql";
import type { Logger } from "pino";
import { REQUEST_CODES, ServiceCode, ServiceError } from "./errors.js";

// graphql-js echoes a rejected variable's value ("got invalid value \"s3cr3t\""): the value may be
// a secret sent with the wrong type, so it is never returned or logged.
const ECHOED_VARIABLE_VALUE = /^(Variable "\$[^"]{1,100}") got invalid value[\s\S]*$/;

// Syntax errors quote the offending token ('found String "s3cr3t"'): a secret typed into a
// malformed document would come back in the answer.
const QUOTED = /"(?:[^"\\]|\\.)*"?/g;

/**
 * The last word on every error a client sees: our coded errors pass as they are, request-shape errors
 * keep their Apollo code without internals, anything else is logged and masked.
 */
export function errorFormatter(
  logger: Logger,
): (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError {
  return (formatted, error) => {
    const original = unwrapResolverError(error);
    const cause =
      serviceErrorIn(original) ?? serviceErrorIn((original as Partial<GraphQLError>)?.originalError);
    if (cause !== undefined) {
      return {
        message: cause.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...cause.extensions },
      };
    }
    const code = formatted.extensions?.code;
    if (typeof code === "string" && REQUEST_CODES.has(code)) {
      const echoed = ECHOED_VARIABLE_VALUE.exec(formatted.message);
      return {
        message:
          echoed !== null
            ? `${echoed[1]} got a value of the wrong type (the value is not echoed).`
            : code === "GRAPHQL_PARSE_FAILED"
              ? formatted.message.replace(QUOTED, '"…"')
              : formatted.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { code },
      };
    }
    logger.error({ err: original, path: formatted.path }, "Unexpected error while resolving a request");
    return {
      message: "Internal server error",
      path: formatted.path,
      extensions: { code: ServiceCode.INTERNAL_SERVER_ERROR },
    };
  };
}

function serviceErrorIn(error: unknown): ServiceError | undefined {
  return error instanceof ServiceError ? error : undefined;
}
