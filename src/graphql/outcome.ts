/**
 * What Apollo's plugins learn about one operation, for the handler that made the operation's context
 * (http-handler.ts): the handler creates it, hands it to Apollo inside the context, and turns it into
 * the reply's outcome once Apollo has answered. It lives no longer than one request and goes no
 * further than this room.
 */
import type { Outcome } from "../errors.js";
import type { Context } from "./context.js";

/** Written by the outcome plugin, read by the handler after `executeHTTPGraphQLRequest`. */
export interface OperationOutcome {
  /** ok, or the first error's code; undefined when Apollo refused the request before its pipeline. */
  code: Outcome | undefined;
  /** The document itself failed parsing or validation: the answer depends on nothing else. */
  documentRefused: boolean;
}

/** The context Apollo sees: the resolvers' Context plus the operation's outcome. */
export type ServerContext = Context & { readonly outcome: OperationOutcome };
