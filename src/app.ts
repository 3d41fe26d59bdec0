import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { ApolloServer } from "@apollo/server";
import type { Logger } from "pino";
import { createApolloServer, type ServerContext } from "./apollo.js";
import { AsposeTokenClient } from "./aspose/token-client.js";
import type { Config } from "./config.js";
import { contextFactory } from "./context.js";
import { graphqlHandler } from "./http/graphql-handler.js";
import { createHttpServer, type Readiness } from "./http/server.js";
import { type AttemptLimiter, lockoutPolicy } from "./limits/attempt-limiter.js";
import { MemoryAttemptLimiter } from "./limits/memory-attempt-limiter.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { CredentialKeyer } from "./tokens/credential-key.js";
import { MemoryTokenCache } from "./tokens/memory-token-cache.js";
import type { TokenCache } from "./tokens/token-cache.js";
import { TokenService } from "./tokens/token-service.js";
import type { Clock } from "./tokens/types.js";
import { SERVICE_VERSION } from "./version.js";

/** A shared store's health, when one is configured (Redis). */
export interface SharedStoreStatus {
  readonly name: string;
  up(): boolean;
}

/** What the app is built from; everything process-wide is made once by main.ts and injected. */
export interface AppOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly clock?: Clock;
  /** Defaults to the in-memory cache; a shared store (Redis) is passed here. */
  readonly tokenCache?: TokenCache;
  readonly limiter?: AttemptLimiter;
  readonly sharedStore?: SharedStoreStatus;
}

/** The built service: not listening until `listen()`. */
export interface App {
  readonly httpServer: Server;
  readonly apollo: ApolloServer<ServerContext>;
  readonly tokenCache: TokenCache;
  /** Starts Apollo and listens; resolves with the bound address. */
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting, lets in-flight requests finish (up to the deadline), then releases everything. */
  shutdown(deadlineMs: number): Promise<void>;
}

/** Builds the service from its Config: no side effects until `listen()`. */
export function createApp(options: AppOptions): App {
  const { config, logger, metrics } = options;
  const clock = options.clock ?? Date.now;
  const client = new AsposeTokenClient({
    ...config.aspose,
    userAgent: `aspose-token-subgraph/${SERVICE_VERSION} (+node ${process.versions.node})`,
    clock,
    logger: logger.child({ component: "aspose" }),
    observer: metrics,
  });
  const keyer = new CredentialKeyer(config.tokenCache.key, client.tokenUrl);
  const tokenCache =
    options.tokenCache ??
    new MemoryTokenCache({ maxEntries: config.tokenCache.enabled ? config.tokenCache.maxEntries : 0, clock });
  metrics.watchTokenCacheSize(() => tokenCache.size());
  const limiter =
    options.limiter ??
    new MemoryAttemptLimiter(lockoutPolicy(config.lockout), clock, (subject) => metrics.lockout(subject));
  const service = new TokenService({
    client,
    cache: tokenCache,
    keyer,
    limiter,
    margin: {
      minSeconds: config.tokenCache.refreshMarginMinSeconds,
      ratio: config.tokenCache.refreshMarginRatio,
    },
    clock,
    onLookup: (source) => metrics.tokenLookup(source),
  });
  const apollo = createApolloServer(config, logger);
  let started = false;
  let draining = false;

  const readiness = (): Readiness => {
    const checks: Record<string, string> = {};
    if (options.sharedStore !== undefined)
      checks[options.sharedStore.name] = options.sharedStore.up() ? "up" : "down";
    // A shared store that is down does not make the replica unready: it falls back to local state.
    return { ready: started && !draining, checks };
  };

  const httpServer = createHttpServer({
    logger,
    metrics,
    trustProxyHops: config.trustProxyHops,
    requestIdHeader: config.requestIdHeader,
    corsOrigins: config.corsOrigins,
    graphql: graphqlHandler({
      apollo,
      bodyLimitBytes: config.limits.bodyLimitBytes,
      makeContext: contextFactory(service, keyer),
    }),
    readiness,
    draining: () => draining,
    onDrainedResponse: () => httpServer.closeIdleConnections(),
  });

  return {
    httpServer,
    apollo,
    tokenCache,
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
      await Promise.all([tokenCache.close(), limiter.close()]);
    },
  };
}
