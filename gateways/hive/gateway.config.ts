/**
 * Hive Gateway in front of aspose-token-subgraph: `hive-gateway supergraph supergraph.graphql --port 4100`
 * picks this file up (4100: the subgraph keeps its own 4000). With ROUTER_HMAC_SECRET set, as on the
 * subgraph, the gateway signs every request to it (router-only access). Tested by
 * test/federation/supergraph.test.ts and test/federation/gateway-recipes.test.ts, which run Hive
 * Gateway's runtime with this very config. (`defineConfig` from `@graphql-hive/gateway` is an identity
 * helper for the same type; the type is imported from the runtime package the CLI is built on.)
 */
import type { IncomingMessage } from "node:http";
import type { GatewayConfigSupergraph, GatewayPlugin } from "@graphql-hive/gateway-runtime";
import { maxTokenFieldsRule, secretAsVariableRule } from "./aspose-token-rules.js";

/** Keep equal to the subgraph's MAX_TOKEN_FIELDS_PER_OPERATION. */
const MAX_TOKEN_FIELDS_PER_OPERATION = 3;

/** The subgraph's operation rules, run by the gateway's validation (see aspose-token-rules.ts). */
export function useAsposeTokenRules(maxTokenFields: number): GatewayPlugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(secretAsVariableRule);
      addValidationRule(maxTokenFieldsRule(maxTokenFields));
    },
  };
}

/** The subgraph's name in the supergraph (supergraph.yaml). */
const ASPOSE_TOKEN_SUBGRAPH = "aspose-token";

/** The node:http request the gateway's server hands over with each request. */
interface NodeServerContext {
  readonly req?: IncomingMessage;
}

export const gatewayConfig = {
  supergraph: "supergraph.graphql",
  propagateHeaders: {
    fromClientToSubgraphs({ request, context }) {
      // The gateway appends the address it saw: list the gateway in the subgraph's TRUSTED_PROXIES
      // (and the proxies in front of it that append too).
      const peer = (context as NodeServerContext).req?.socket.remoteAddress;
      const forwarded = request.headers.get("x-forwarded-for");
      return {
        "x-forwarded-for": [forwarded, peer].filter((part) => part != null && part !== "").join(", ") || null,
        // Ties the gateway's and the subgraph's log lines (REQUEST_ID_HEADER=x-request-id).
        "x-request-id": request.headers.get("x-request-id"),
        // W3C trace context: the subgraph continues the caller's trace. With the gateway's own
        // OpenTelemetry plugin on, it injects its span's traceparent instead.
        traceparent: request.headers.get("traceparent"),
        tracestate: request.headers.get("tracestate"),
      };
    },
  },
  plugins: () => [useAsposeTokenRules(MAX_TOKEN_FIELDS_PER_OPERATION)],
  // Router-only access: the subgraph's ROUTER_HMAC_SECRET, the same key here. The signature (HMAC-SHA256
  // of the query and variables) goes in the request's extensions["hmac-signature"].
  ...(process.env.ROUTER_HMAC_SECRET === undefined
    ? {}
    : {
        hmacSignature: {
          secret: process.env.ROUTER_HMAC_SECRET,
          shouldSign: ({ subgraphName }) => subgraphName === ASPOSE_TOKEN_SUBGRAPH,
        },
      }),
} satisfies GatewayConfigSupergraph;
