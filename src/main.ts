/**
 * The process entry point, and the only module that reads process.env, listens and handles signals.
 */
import { pino } from "pino";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./observability/logger.js";
import { ServiceMetrics } from "./observability/metrics.js";
import { connectSharedStore } from "./redis/shared-store.js";

function loadConfigOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Invalid configuration: ${error.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  // Asynchronous, buffered log writes: one write per 4 KiB of lines instead of one per line keeps
  // the request path off the terminal's (or the collector's) speed. The buffer is flushed every
  // second, so a quiet service's lines are never held back for long, and synchronously on exit.
  const destination = pino.destination({ sync: false, minLength: 4096 });
  setInterval(() => destination.flush(), 1000).unref();
  const logger = createLogger(config.logLevel, destination);
  const metrics = new ServiceMetrics({ defaultMetrics: true });
  // REDIS_URL set: token cache and lockout counters shared by all replicas; unset: in-memory.
  const shared =
    config.redis.url === undefined
      ? undefined
      : connectSharedStore({ config, logger: logger.child({ component: "redis" }), metrics });
  const app = createApp({
    config,
    logger,
    metrics,
    tokenCache: shared?.tokenCache,
    limiter: shared?.limiter,
    sharedStore: shared?.status,
  });

  const address = await app.listen(config.port, config.host);
  logger.info(
    {
      port: address.port,
      host: address.address,
      tokenUrl: `${config.aspose.baseUrl}${config.aspose.tokenPath}`,
    },
    `aspose-token-subgraph ready at http://${config.host === "0.0.0.0" ? "localhost" : config.host}:${address.port}/graphql`,
  );
  // Orchestrators and people watch for this line: do not hold it in the buffer.
  destination.flush();

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "Shutting down: finishing in-flight requests");
    destination.flush();
    app
      .shutdown(config.shutdownTimeoutMs)
      .then(() => shared?.close())
      .then(() => {
        logger.info("Shut down cleanly");
        destination.flushSync();
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, "Shutdown failed");
        destination.flushSync();
        process.exit(1);
      });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason }, "Unhandled promise rejection");
  });
}

await main();
