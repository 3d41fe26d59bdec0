import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from "@apollo/server/plugin/disabled";
import { ApolloServerPluginInlineTrace } from "@apollo/server/plugin/inlineTrace";
import {
  ApolloServerPluginLandingPageLocalDefault,
  ApolloServerPluginLandingPageProductionDefault,
} from "@apollo/server/plugin/landingPage/default";
import { ApolloServerPluginUsageReporting } from "@apollo/server/plugin/usageReporting";
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import type { ValidationContext, ValidationRule } from "graphql";
import type { Logger } from "pino";
import type { Config } from "./config/index.js";
import { MAX_DEPTH, MAX_DIRECTIVES } from "./config/limits.js";
import { badUserInput, RequestCode } from "./errors.js";
import { errorFormatter } from "./format-error.js";
import { refusedDocumentStatus } from "./graphql-over-http.js";
import type { ServerContext } from "./http/outcome.js";
import {
  knownOperationTypeRule,
  maxTokenFieldsRule,
  secretAsVariableRule,
} from "./limits/operation-rules.js";
import { activeSpan } from "./observability/tracing.js";
import { buildSchema } from "./schema.js";

// Records the first error's code (or "ok") once Apollo has formatted the response.
const outcomePlugin: ApolloServerPlugin<ServerContext> = {
  async requestDidStart() {
    return {
      async parsingDidStart({ contextValue }) {
        return async (error) => {
          if (error !== undefined) contextValue.report.documentRefused = true;
        };
      },
      async validationDidStart({ contextValue }) {
        return async (errors) => {
          if (errors !== undefined && errors.length > 0) contextValue.report.documentRefused = true;
        };
      },
      async willSendResponse({ contextValue, response }) {
        if (response.body.kind !== "single") return;
        const code = response.body.singleResult.errors?.[0]?.extensions?.code;
        contextValue.report.outcome = typeof code === "string" ? code : "ok";
      },
    };
  },
};

/**
 * Apollo answers every refused document with 400. The GraphQL-over-HTTP spec wants 200 for a client
 * that accepts application/json, 400 only for application/graphql-response+json (see
 * graphql-over-http.ts); a request that is not GraphQL at all (BAD_REQUEST: no query, variables not a
 * map, CSRF) keeps its 4xx, and so do the HTTP edge's own refusals (413, 405), made before Apollo.
 */
const specStatusPlugin: ApolloServerPlugin<ServerContext> = {
  async requestDidStart() {
    return {
      async willSendResponse({ request, response }) {
        if (response.http.status !== 400 || response.body.kind !== "single") return;
        const errors = response.body.singleResult.errors ?? [];
        if (errors.some((error) => error.extensions?.code === RequestCode.BAD_REQUEST)) return;
        response.http.status = refusedDocumentStatus(request.http?.headers.get("accept"));
      },
    };
  },
};

// Names the request span after the operation ("mutation AccessToken", the semantic conventions'
// GraphQL span name) and records its type and name: client-chosen identifiers, never the document
// (which may hold an inline secret) nor a variable's value. Installed only when tracing is on.
const MAX_NAME_LENGTH = 100;
const tracingPlugin: ApolloServerPlugin<ServerContext> = {
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

/** Builds the Apollo Server for the subgraph from the Config; nothing is started here. */
export function createApolloServer(
  config: Config,
  logger: Logger,
  options: { readonly traced: boolean } = { traced: false },
): ApolloServer<ServerContext> {
  const production = config.server.nodeEnv === "production";
  const { limits } = config;
  const validationRules: ValidationRule[] = [
    maxDepthRule({ n: MAX_DEPTH, ...rejectAs("is nested too deeply") }),
    maxAliasesRule({ n: limits.maxAliases, ...rejectAs("uses too many aliases") }),
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...rejectAs("uses too many directives") }),
    maxTokenFieldsRule(limits.maxTokenFieldsPerOperation),
    knownOperationTypeRule,
  ];
  if (limits.requireSecretVariables) validationRules.push(secretAsVariableRule);

  const plugins: ApolloServerPlugin<ServerContext>[] = [
    // Apollo computes a cache policy per field by default (a willResolveField hook on every field of
    // every request) for a Cache-Control header this service always sets to no-store itself.
    ApolloServerPluginCacheControlDisabled(),
    outcomePlugin,
    specStatusPlugin,
    ...(options.traced ? [tracingPlugin] : []),
    production
      ? ApolloServerPluginLandingPageProductionDefault({
          graphRef: config.telemetry.apollo.graphRef,
          footer: false,
        })
      : ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false }),
    // Federated traces for the router: error messages are already masked by formatError.
    ApolloServerPluginInlineTrace({ includeErrors: { masked: true } }),
    config.telemetry.apollo.key === undefined
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
    apollo: { key: config.telemetry.apollo.key, graphRef: config.telemetry.apollo.graphRef },
    introspection: config.server.introspection,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    includeStacktraceInErrorResponses: false,
    hideSchemaDetailsFromClientErrors: production,
    // The token limit is enforced by graphql-js while parsing: no extra lexing pass.
    parseOptions: { maxTokens: limits.maxTokens },
    validationRules,
    formatError: errorFormatter(logger),
    plugins,
    // main.ts owns signals: it drains HTTP first, then stops Apollo.
    stopOnTerminationSignals: false,
    logger: apolloLogger(logger),
  });
}

// graphql-armor throws its rejection by default; a throw inside validation is an unexpected error to
// Apollo (HTTP 500, logged with a stack). Reported instead, it is a coded 400 like any invalid operation.
// The limits themselves are not disclosed.
function rejectAs(what: string) {
  return {
    exposeLimits: false,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null) =>
        context?.reportError(
          badUserInput(`The operation ${what}. Send a smaller operation; nothing was sent to Aspose.`),
        ),
    ],
  };
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
