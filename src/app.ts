import { once } from "node:events";
import type { AddressInfo } from "node:net";
import type { DestinationStream, Logger } from "pino";
import type { Config } from "./config/index.js";
import { createApolloServer } from "./graphql/apollo-server.js";
import { contextFactory } from "./graphql/context.js";
import { explorerSite } from "./graphql/explorer/site.js";
import { graphqlHandler } from "./graphql/http-handler.js";
import { perimeter } from "./graphql/perimeter/admission.js";
import { BodyIntake } from "./http/body-intake.js";
import { proxyTrust } from "./http/client-address.js";
import type { Handler, Route } from "./http/exchange.js";
import { type Readiness, probeRoutes, publicRoutes } from "./http/routes.js";
import { connectionCap, createHttpServer, type HttpEdge, type ServerFactory } from "./http/server.js";
import { type Shed, shedReporter } from "./http/shedding.js";
import { type TlsListener, tlsListener } from "./http/tls.js";
import { audited, auditLog } from "./observability/audit-log.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { TRACING_OFF, type Tracing } from "./observability/tracing.js";
import { createTokenService } from "./service.js";
import { createStores, type Stores } from "./stores/index.js";
import { CredentialKeyer } from "./tokens/credential.js";
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
  /**
   * Where audit lines go, opened by main.ts as AUDIT_LOG says (a test passes its own); no audit log
   * when absent or when AUDIT_LOG is `off`.
   */
  readonly auditDestination?: DestinationStream;
  /** The variables the explorer opens with (`npm run dev`: the demo credentials); unset: empty ones. */
  readonly explorerVariables?: Readonly<Record<string, string>>;
}

/** The built service: not listening until `listen()`. */
export interface App {
  readonly httpServer: HttpEdge["server"];
  /** The public port's TLS when TLS_CERT_FILE is set: `reload("signal")` on SIGHUP. */
  readonly tls: TlsListener | undefined;
  /** The probes' own server when ADMIN_PORT is set; listening after `listen()`. */
  readonly adminServer: HttpEdge["server"] | undefined;
  readonly stores: Stores;
  /** The token endpoint every credential is exchanged at. */
  readonly tokenUrl: string;
  /** Starts Apollo and listens (and the admin port, if configured); resolves with the public address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /**
   * Drains the public port (see http/drain.ts) within the deadline, then closes the admin port and
   * releases everything.
   */
  shutdown(deadlineMs: number): Promise<ShutdownReport>;
}

/** How a shutdown went: `cutRequests` > 0 when the deadline ended requests that had not finished. */
export interface ShutdownReport {
  readonly cutRequests: number;
}

/** Connections the admin port accepts: a handful of probes and scrapers, never a flood. */
const ADMIN_MAX_CONNECTIONS = 64;

/** Builds the service from its Config: no side effects until `listen()` but a shared store's connection. */
export function createApp(options: AppOptions): App {
  const { config, logger, metrics } = options;
  const tracing = options.tracing ?? TRACING_OFF;
  const clock = options.clock ?? Date.now;
  const stores = options.stores ?? createStores({ config, logger, metrics, clock });
  const upstream = createUpstream({
    config,
    logger,
    metrics,
    clock,
    tracer: tracing.tracer,
    cooldowns: stores.cooldowns,
  });
  const keyer = new CredentialKeyer(config.tokens.key, upstream.tokenUrl);
  const audit = auditLog(config.audit, options.auditDestination);
  const service = createTokenService({ config, metrics, stores, upstream, tracing, clock, audit });
  const explorer = explorerSite({
    explorer: config.server.explorer,
    graphRef: config.telemetry.apollo.graphRef,
    variables: options.explorerVariables,
  });
  const apollo = createApolloServer(config, logger, { traced: tracing.enabled, landingPage: explorer.page });
  let started = false;
  let stopping = false;

  // A shared store that is down does not make the replica unready: it falls back to local state.
  // An open circuit does not either: cached tokens are still served. Both are shown for operators.
  const readiness = (): Readiness => ({
    ready: started && !stopping,
    checks: { ...stores.readiness(), upstream: upstream.circuit() },
  });

  const { server: serverConfig } = config;
  const tls = config.perimeter.tls === undefined ? undefined : tlsListener(config.perimeter.tls, logger);
  const edge = (
    route: Route,
    trusted: readonly string[],
    cors: readonly string[],
    maxConnections: number,
    shed: Shed,
    serverFactory?: ServerFactory,
  ) =>
    createHttpServer({
      logger,
      metrics,
      proxyTrust: proxyTrust(trusted),
      requestIdHeader: serverConfig.requestIdHeader,
      corsOrigins: cors,
      route,
      connections: {
        ...serverConfig.edge,
        headersTimeoutMs: serverConfig.requestHeadersTimeoutMs,
        maxConnections,
      },
      shed,
      serverFactory,
    });
  // Only the public port's load is counted in the metrics: it is the one exposed to floods.
  const publicShed = shedReporter(logger, (reason) => metrics.edge.connectionShed(reason));
  const bodies = new BodyIntake({
    budgetBytes: serverConfig.edge.bodyBudgetBytes,
    minBytesPerSecond: serverConfig.edge.minBodyBytesPerSecond,
    onShed: publicShed,
  });
  const graphql = graphqlHandler({
    apollo,
    bodyLimitBytes: config.limits.bodyLimitBytes,
    bodies,
    admit: perimeter(config.perimeter, (reason) => metrics.edge.perimeterRefusal(reason)),
    makeContext: contextFactory(audited(service, audit), keyer, () => ({
      ready: readiness().ready,
      upstream: upstream.circuit(),
    })),
    pageHeaders: explorer.page.headers,
  });
  // X-Forwarded-For is honoured from TRUSTED_PROXIES only.
  const publicEdge = edge(
    publicRoutes({
      metrics,
      readiness,
      graphql: traced(tracing, graphql),
      files: explorer.files,
      probes: serverConfig.admin === undefined,
    }),
    serverConfig.trustedProxies,
    serverConfig.corsOrigins,
    connectionCap(serverConfig.maxConnections, options.descriptorLimit),
    publicShed,
    tls?.serverFactory,
  );
  metrics.edge.watch(() => ({ ...publicEdge.load(), bodyBytes: bodies.heldBytes }));
  // The probes on a port of their own, and only there: orchestrators and scrapers reach them whatever
  // floods the public port, and a liveness probe cannot fail because the public port is at its
  // connection cap (an orchestrator would restart a healthy replica, turning a flood into an outage).
  // Probes carry no credentials: no proxy needs trusting.
  const adminEdge =
    serverConfig.admin === undefined
      ? undefined
      : edge(probeRoutes({ metrics, readiness }), [], [], ADMIN_MAX_CONNECTIONS, shedReporter(logger));

  return {
    httpServer: publicEdge.server,
    tls,
    adminServer: adminEdge?.server,
    stores,
    tokenUrl: upstream.tokenUrl,
    async listen(port, host) {
      await apollo.start();
      const { server } = publicEdge;
      // The kernel caps the backlog at net.core.somaxconn; Node's default of 511 reset connections
      // when a fresh replica met a burst.
      server.listen({ port, host, backlog: serverConfig.listenBacklog });
      await once(server, "listening");
      if (adminEdge !== undefined && serverConfig.admin !== undefined) {
        adminEdge.server.listen({ port: serverConfig.admin.port, host: serverConfig.admin.host });
        await once(adminEdge.server, "listening");
      }
      tls?.watch();
      started = true;
      return server.address() as AddressInfo; // listen() on a host and port always yields an AddressInfo
    },
    async shutdown(deadlineMs) {
      stopping = true;
      // The admin port keeps answering (/readyz: not ready) while the public port drains.
      const cutRequests = await publicEdge.drain(deadlineMs);
      tls?.close();
      await adminEdge?.close();
      await apollo.stop();
      await stores.close();
      await tracing.shutdown();
      return { cutRequests };
    },
  };
}

/** The GraphQL handler inside a request span when tracing is on; the handler itself when off. */
function traced(tracing: Tracing, handler: Handler): Handler {
  if (!tracing.enabled) return handler;
  return (request, response, facts) =>
    tracing.serve(request.method ?? "GET", request.headers, () => handler(request, response, facts));
}
