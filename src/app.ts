import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApolloServer } from "./apollo.js";
import { AsposeTokenClient } from "./aspose/token-client.js";
import type { Config } from "./config/index.js";
import { contextFactory } from "./context.js";
import { graphqlHandler } from "./http/graphql-handler.js";
import { createHttpServer, type Readiness } from "./http/server.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { activeSpan, TRACING_OFF, TraceAttribute, type Tracing } from "./observability/tracing.js";
import { claimWaitMs, createStores, type Stores } from "./stores/index.js";
import { Bulkhead } from "./tokens/bulkhead.js";
import { CircuitBreaker } from "./tokens/circuit-breaker.js";
import { CredentialKeyer } from "./tokens/credential.js";
import { TokenService } from "./tokens/token-service.js";
import type { Clock } from "./tokens/types.js";
import { SERVICE_VERSION } from "./version.js";

/** What the app is built from; everything process-wide is made once by main.ts and injected. */
export interface AppOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly clock?: Clock;
  /**
   * The stores Config asks for are built here; a test may pass the real ones wrapped (to observe
   * them), made by the same createStores.
   */
  readonly stores?: Stores;
  /** OpenTelemetry, started by main.ts before the app; off when not given. */
  readonly tracing?: Tracing;
}

/** The built service: not listening until `listen()`. */
export interface App {
  readonly httpServer: Server;
  readonly stores: Stores;
  /** Starts Apollo and listens; resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (up to the deadline), then releases everything. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** The GraphQL handler inside a request span when tracing is on; the handler itself when off. */
function traced(
  tracing: Tracing,
  handler: ReturnType<typeof graphqlHandler>,
): ReturnType<typeof graphqlHandler> {
  if (!tracing.enabled) return handler;
  return (request, response, facts) =>
    tracing.serve(request.method ?? "GET", request.headers, () => handler(request, response, facts));
}

/** Builds the service from its Config: no side effects until `listen()` but a shared store's connection. */
export function createApp(options: AppOptions): App {
  const { config, logger, metrics } = options;
  const tracing = options.tracing ?? TRACING_OFF;
  const clock = options.clock ?? Date.now;
  const stores = options.stores ?? createStores({ config, logger, metrics, clock });
  const client = new AsposeTokenClient({
    ...config.upstream,
    userAgent: `aspose-token-subgraph/${SERVICE_VERSION} (+node ${process.versions.node})`,
    clock,
    logger: logger.child({ component: "aspose" }),
    observer: metrics,
    tracer: tracing.tracer,
  });
  const { upstream, tokens } = config;
  // The breaker sees only real upstream outcomes; the bulkhead in front of it bounds waiting callers
  // (a refusal by an open circuit passes through it at once).
  const breaker = new CircuitBreaker(client, {
    threshold: upstream.breakerThreshold,
    cooldownMs: upstream.breakerCooldownMs,
    clock,
    onStateChange: (state) => {
      metrics.circuitState(state);
      logger.warn({ circuit: state }, "Aspose circuit breaker changed state");
    },
  });
  const issuer = new Bulkhead(breaker, {
    maxConcurrent: upstream.maxConcurrentCalls,
    maxWaitMs: upstream.queueWaitMs,
    onShed: () => metrics.upstreamShed(),
  });
  metrics.circuitState("closed");
  const keyer = new CredentialKeyer(tokens.key, client.tokenUrl);
  metrics.watchTokenCacheSize(() => stores.tokenStore.size());
  const service = new TokenService({
    issuer,
    store: stores.tokenStore,
    limiter: stores.limiter,
    policy: {
      margin: { minSeconds: tokens.refreshMarginMinSeconds, ratio: tokens.refreshMarginRatio },
      ahead: { minSeconds: tokens.refreshAheadSeconds, ratio: tokens.refreshAheadRatio },
    },
    clock,
    claimWaitMs: claimWaitMs(config),
    // With tracing off the callback is the metric alone: the hit path pays for no span lookup.
    onLookup: tracing.enabled
      ? (source) => {
          metrics.tokenLookup(source);
          activeSpan()?.setAttribute(TraceAttribute.CACHE, source);
        }
      : (source) => metrics.tokenLookup(source),
    onClaimWait: () => metrics.sharedLockWait(),
    onRefreshAhead: (outcome) => metrics.refreshAhead(outcome),
  });
  const apollo = createApolloServer(config, logger, { traced: tracing.enabled });
  let started = false;
  let draining = false;

  // A shared store that is down does not make the replica unready: it falls back to local state.
  // An open circuit does not either: cached tokens are still served. Both are shown for operators.
  const readiness = (): Readiness => ({
    ready: started && !draining,
    checks: { ...stores.readiness(), upstream: breaker.state },
  });

  const httpServer = createHttpServer({
    logger,
    metrics,
    trustProxyHops: config.server.trustProxyHops,
    requestIdHeader: config.server.requestIdHeader,
    corsOrigins: config.server.corsOrigins,
    graphql: traced(
      tracing,
      graphqlHandler({
        apollo,
        bodyLimitBytes: config.limits.bodyLimitBytes,
        makeContext: contextFactory(service, keyer),
      }),
    ),
    readiness,
    draining: () => draining,
    onDrainedResponse: () => httpServer.closeIdleConnections(),
  });

  return {
    httpServer,
    stores,
    async listen(port, host) {
      await apollo.start();
      httpServer.listen(port, host);
      await once(httpServer, "listening");
      started = true;
      return httpServer.address() as AddressInfo;
    },
    async shutdown(deadlineMs) {
      draining = true;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      // close() has released the listening socket: from here new connections are refused. Logged so
      // an operator (and the process tests) can tell draining from hanging.
      logger.info({ deadlineMs }, "Stopped accepting connections; draining in-flight requests");
      // Keep-alive connections close as their in-flight request finishes (answers carry
      // `Connection: close`, and each answered connection is closed once idle); past the deadline
      // whatever is left is cut.
      const deadline = new Promise<"deadline">((resolve) =>
        setTimeout(() => resolve("deadline"), deadlineMs).unref(),
      );
      const outcome = await Promise.race([closed.then(() => "closed" as const), deadline]);
      if (outcome === "deadline") {
        logger.warn({ deadlineMs }, "Shutdown deadline reached: closing remaining connections");
        httpServer.closeAllConnections();
        await closed;
      }
      await apollo.stop();
      await stores.close();
      await tracing.shutdown();
    },
  };
}
