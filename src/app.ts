import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import { createApolloServer } from "./apollo.js";
import type { Config } from "./config/index.js";
import { contextFactory } from "./context.js";
import { HttpCode } from "./errors.js";
import { proxyTrust } from "./http/client-address.js";
import { graphqlHandler } from "./http/graphql-handler.js";
import { jsonError } from "./http/reply.js";
import { probeRoutes, publicRoutes } from "./http/routes.js";
import { connectionCap, createHttpServer, type Readiness } from "./http/server.js";
import { CredentialGate } from "./limits/credential-gate.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { activeSpan, TRACING_OFF, TraceAttribute, type Tracing } from "./observability/tracing.js";
import { createStores, type Stores, sharedLifetime } from "./stores/index.js";
import { CredentialKeyer } from "./tokens/credential.js";
import { TokenService } from "./tokens/token-service.js";
import type { Clock } from "./tokens/types.js";
import { createUpstream } from "./upstream.js";

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
  /** The process's open-file limit, when main.ts could read it: the connection cap stays below it. */
  readonly descriptorLimit?: number;
  /** OpenTelemetry, started by main.ts before the app; off when not given. */
  readonly tracing?: Tracing;
}

/** The built service: not listening until `listen()`. */
export interface App {
  readonly httpServer: Server;
  /** The probes' own server when ADMIN_PORT is set; listening after `listen()`. */
  readonly adminServer: Server | undefined;
  readonly stores: Stores;
  /** Starts Apollo and listens (and the admin port, if configured); resolves with the public address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Stops accepting, lets in-flight requests finish up to the deadline, answers those still waiting
   * with a coded 503 (SHUTTING_DOWN) and closes their connections, then releases everything.
   */
  shutdown(deadlineMs: number): Promise<ShutdownReport>;
}

/** How a shutdown went: `cutRequests` > 0 when the deadline ended requests that had not finished. */
export interface ShutdownReport {
  readonly cutRequests: number;
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
  const { tokens } = config;
  const upstream = createUpstream({ config, logger, metrics, clock, tracer: tracing.tracer });
  const keyer = new CredentialKeyer(tokens.key, upstream.tokenUrl);
  metrics.watchTokenCacheSize(() => stores.tokenStore.size());
  const service = new TokenService({
    issuer: upstream.issuer,
    store: stores.tokenStore,
    gate: new CredentialGate({
      limiter: stores.limiter,
      verifiers: stores.verifiers,
      onRefusal: (reason) => metrics.credentialRefusal(reason),
    }),
    forceRefreshMinIntervalMs: config.limits.forceRefreshMinIntervalSeconds * 1000,
    policy: {
      margin: { minSeconds: tokens.refreshMarginMinSeconds, ratio: tokens.refreshMarginRatio },
      ahead: { minSeconds: tokens.refreshAheadSeconds, ratio: tokens.refreshAheadRatio },
    },
    clock,
    claimWaitMs: sharedLifetime(config),
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
    checks: { ...stores.readiness(), upstream: upstream.circuit() },
  });

  const { server: serverConfig } = config;
  const publicEdge = createHttpServer({
    logger,
    metrics,
    // X-Forwarded-For is honoured from TRUSTED_PROXIES only.
    proxyTrust: proxyTrust(serverConfig.trustedProxies),
    requestIdHeader: serverConfig.requestIdHeader,
    corsOrigins: serverConfig.corsOrigins,
    route: publicRoutes({
      metrics,
      readiness,
      graphql: traced(
        tracing,
        graphqlHandler({
          apollo,
          bodyLimitBytes: config.limits.bodyLimitBytes,
          makeContext: contextFactory(service, keyer),
        }),
      ),
    }),
    connections: {
      headersTimeoutMs: serverConfig.requestHeadersTimeoutMs,
      maxConnections: connectionCap(serverConfig.maxConnections, options.descriptorLimit),
    },
    draining: () => draining,
    onDrainedResponse: () => httpServer.closeIdleConnections(),
  });
  const httpServer = publicEdge.server;
  // The probes on a port of their own, so orchestrators and scrapers still reach them when the public
  // port is flooded or at its connection cap.
  const adminServer =
    serverConfig.admin === undefined
      ? undefined
      : createHttpServer({
          logger,
          metrics,
          // Probes carry no credentials: no proxy needs trusting.
          proxyTrust: proxyTrust([]),
          requestIdHeader: serverConfig.requestIdHeader,
          corsOrigins: [],
          route: probeRoutes({ metrics, readiness }),
          connections: {
            headersTimeoutMs: serverConfig.requestHeadersTimeoutMs,
            maxConnections: ADMIN_MAX_CONNECTIONS,
          },
          draining: () => draining,
          onDrainedResponse: () => adminServer?.closeIdleConnections(),
        }).server;

  return {
    httpServer,
    adminServer,
    stores,
    async listen(port, host) {
      await apollo.start();
      // The kernel caps the backlog at net.core.somaxconn; Node's default of 511 reset connections
      // when a fresh replica met a burst.
      httpServer.listen({ port, host, backlog: serverConfig.listenBacklog });
      await once(httpServer, "listening");
      if (adminServer !== undefined && serverConfig.admin !== undefined) {
        adminServer.listen({ port: serverConfig.admin.port, host: serverConfig.admin.host });
        await once(adminServer, "listening");
      }
      started = true;
      return httpServer.address() as AddressInfo; // listen() on a host and port always yields an AddressInfo
    },
    async shutdown(deadlineMs) {
      draining = true;
      let cut = 0;
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      httpServer.closeIdleConnections();
      // close() has released the listening socket: from here new connections are refused. Logged so
      // an operator (and the process tests) can tell draining from hanging.
      logger.info({ deadlineMs }, "Stopped accepting connections; draining in-flight requests");
      // Keep-alive connections close as their in-flight request finishes (answers carry
      // `Connection: close`, and each answered connection is closed once idle); past the deadline
      // whatever is left is answered and cut. The admin port keeps answering (/readyz: not ready)
      // until then.
      const outcome = await Promise.race([
        closed.then(() => "closed" as const),
        delay(deadlineMs, "deadline"),
      ]);
      if (outcome === "deadline") {
        // A request still waiting (on a hung upstream, say) gets a coded answer, not a reset.
        const answering = publicEdge.answerPending(
          jsonError(503, HttpCode.SHUTTING_DOWN, "The service is shutting down. Retry the request."),
        );
        const answered = await Promise.race([answering, delay(ANSWER_GRACE_MS, undefined)]);
        logger.warn({ deadlineMs, answered }, "Shutdown deadline reached: closing remaining connections");
        // Something was still open past the deadline: a request answered SHUTTING_DOWN, or a
        // connection (an answer still being written, a streamed response) about to be cut.
        cut = Math.max(answered ?? 0, 1);
        httpServer.closeAllConnections();
        await closed;
      }
      if (adminServer !== undefined) {
        const adminClosed = new Promise<void>((resolve) => adminServer.close(() => resolve()));
        adminServer.closeAllConnections();
        await adminClosed;
      }
      await apollo.stop();
      await stores.close();
      await tracing.shutdown();
      return { cutRequests: cut };
    },
  };
}

/** Connections the admin port accepts: a handful of probes and scrapers, never a flood. */
const ADMIN_MAX_CONNECTIONS = 64;
/** How long the coded answers to cut requests get to be written before their connections are closed. */
const ANSWER_GRACE_MS = 1000;

function delay<T>(ms: number, value: T): Promise<T> {
  return new Promise((resolve) => setTimeout(() => resolve(value), ms).unref());
}
