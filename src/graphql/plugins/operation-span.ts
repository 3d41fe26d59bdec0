import type { ApolloServerPlugin } from "@apollo/server";
import { activeSpan } from "../../observability/tracing.js";
import type { ServerContext } from "../outcome.js";

// Operation names are chosen by clients: a span name is bounded.
const MAX_NAME_LENGTH = 100;

/**
 * Names the request span after the operation ("mutation AccessToken", the semantic conventions'
 * GraphQL span name) and records its type and name: client-chosen identifiers, never the document
 * (which may hold an inline secret) nor a variable's value. Installed only when tracing is on.
 */
export const operationSpanPlugin: ApolloServerPlugin<ServerContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, operationName }) {
        const span = activeSpan();
        if (span === undefined || operation === undefined) return;
        const name = operationName?.slice(0, MAX_NAME_LENGTH);
        span.updateName(name === undefined ? operation.operation : `${operation.operation} ${name}`);
        span.setAttribute("graphql.operation.type", operation.operation);
        if (name !== undefined) span.setAttribute("graphql.operation.name", name);
      },
    };
  },
};
