import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginInlineTrace } from "@apollo/server/plugin/inlineTrace";
import { ApolloServerPluginUsageReporting } from "@apollo/server/plugin/usageReporting";
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import type { ExplorerPage } from "./explorer/page.js";
import { errorFormatter } from "./format-error.js";
import { introspectionOffRule } from "./introspection-rule.js";
import { validationRules } from "./operation-rules.js";
import type { ServerContext } from "./outcome.js";
import { landingPagePlugin } from "./plugins/landing-page.js";
import { operationSpanPlugin } from "./plugins/operation-span.js";
import { outcomePlugin } from "./plugins/outcome.js";
import { buildSchema } from "./schema.js";

/** Builds the Apollo Server for the subgraph from the Config; nothing is started here. */
export function createApolloServer(
  config: Config,
  logger: Logger,
  options: { readonly traced: boolean; readonly landingPage: ExplorerPage },
): ApolloServer<ServerContext> {
  const production = config.server.nodeEnv === "production";
  const { limits } = config;
  const { apollo } = config.telemetry;

  const plugins: ApolloServerPlugin<ServerContext>[] = [
    // Apollo computes a cache policy per field by default (a willResolveField hook on every field of
    // every request) for a Cache-Control header this service always sets to no-store itself.
    ApolloServerPluginCacheControlDisabled(),
    outcomePlugin,
    ...(options.traced ? [operationSpanPlugin] : []),
    landingPagePlugin(options.landingPage),
    // Federated traces for the router: error messages are already masked by formatError.
    ApolloServerPluginInlineTrace({ includeErrors: { masked: true } }),
    apollo.key === undefined
      ? ApolloServerPluginUsageReportingDisabled()
      : ApolloServerPluginUsageReporting({
          // Variables carry the clientSecret and headers may carry credentials: neither leaves.
          sendVariableValues: { none: true },
          sendHeaders: { none: true },
          sendErrors: { masked: true },
        }),
  ];

  return new ApolloServer<ServerContext>({
    schema: buildSchema(),
    apollo: { key: apollo.key, graphRef: apollo.graphRef },
    // Refused by introspectionOffRule instead, whose message names INTROSPECTION.
    introspection: true,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: production,
    // The token limit is enforced by graphql-js while parsing: no extra lexing pass.
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules: [
      ...(config.server.introspection ? [] : [introspectionOffRule]),
      ...validationRules(limits),
    ],
    formatError: errorFormatter(logger),
    plugins,
    // main.ts owns signals: the HTTP edge drains first, then Apollo stops.
    stopOnTerminationSignals: false,
    logger: apolloLogger(logger),
  });
}

function apolloLogger(logger: Logger) {
  const child = logger.child({ component: "apollo" });
  return {
    debug: (message: string) => child.debug(message),
    info: (message: string) => child.info(message),
    warn: (message: string) => child.warn(message),
    error: (message: string) => child.error(message),
  };
}
