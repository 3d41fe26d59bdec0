import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError, Kind } from "graphql";
import type { Logger } from "pino";
import { REQUEST_CODES, RequestCode, ServiceCode, ServiceError } from "../errors.js";

// Variable names are GraphQL Names, of any length: the value after "got invalid value" may be a
// secret sent with the wrong type, so nothing after the name is returned.
const ECHOED_VARIABLE_VALUE = /^Variable "\$([_A-Za-z][_0-9A-Za-z]*)" got invalid value/;

// graphql-js ends a syntax error with the offending token's value, printed raw and unescaped
// ('found String "x"SECRET".'), so no pattern can tell where a quoted value ends. Everything from the
// quote that opens a value (after a token kind, or after the lexer's ': ') to the end is dropped;
// what comes before is graphql-js's own wording and punctuators ('Expected ":", found').
const SYNTAX_VALUE = /(?:\b(?:Name|String|BlockString|Int|Float) |: )"/;

// The AST kinds of literals: a validation error located at one prints it ('String cannot represent a
// non string value: {s:"SECRET"}'), so its message is rebuilt without it.
const LITERAL_KINDS: ReadonlySet<string> = new Set<string>([
  Kind.INT,
  Kind.FLOAT,
  Kind.STRING,
  Kind.BOOLEAN,
  Kind.NULL,
  Kind.ENUM,
  Kind.LIST,
  Kind.OBJECT,
  Kind.OBJECT_FIELD,
]);
// Types named by graphql-js before the literal: 'Expected value of type "Int!", found …' and a scalar's
// or enum's own 'String cannot represent …' / 'Enum "Color" cannot represent …'. Schema names only.
const EXPECTED_TYPE = /^Expected value of type "([_A-Za-z][_0-9A-Za-z[\]!]*)"/;
const REFUSING_TYPE = /^(?:Enum ")?([_A-Za-z][_0-9A-Za-z]*)"? cannot represent/;

/**
 * The one place a request-level error's client-facing message is made: graphql-js's wording about the
 * request's shape is kept, and nothing the client wrote as a value (a literal, a variable's value, a
 * mistyped token) is repeated, since any of them may be a secret.
 */
function clientMessage(code: string, message: string, error: unknown): string {
  if (code === RequestCode.GRAPHQL_PARSE_FAILED) {
    const value = SYNTAX_VALUE.exec(message);
    return value === null ? message : `${message.slice(0, value.index + value[0].length)}…".`;
  }
  const variable = ECHOED_VARIABLE_VALUE.exec(message);
  if (variable !== null)
    return `Variable "$${variable[1]}" got a value of the wrong type (the value is not echoed).`;
  if (atLiteral(error)) {
    const type = EXPECTED_TYPE.exec(message)?.[1] ?? REFUSING_TYPE.exec(message)?.[1];
    return type === undefined
      ? "A literal value here is not valid for its type (the value is not echoed)."
      : `Expected a value of type "${type}" here (the value given is not echoed).`;
  }
  return message;
}

function atLiteral(error: unknown): boolean {
  if (!(error instanceof GraphQLError)) return false;
  return error.nodes?.some((node) => LITERAL_KINDS.has(node.kind)) ?? false;
}

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
      return {
        message: clientMessage(code, formatted.message, original),
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
