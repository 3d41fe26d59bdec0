/**
 * The process entry point, and the only module that reads process.env, listens and handles signals.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { pino } from "pino";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config/index.js";
import { createLogger } from "./observability/logger.js";
import { ServiceMetrics } from "./observability/metrics.js";

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
  const logger = createLogger(config.telemetry.logLevel, destination);
  const metrics = new ServiceMetrics({ defaultMetrics: true });
  const descriptorLimit = openFileLimit();
  const app = createApp({ config, logger, metrics, descriptorLimit });
  const { host, port } = config.server;
  const address = await app.listen(port, host);
  const maxConnections = app.httpServer.maxConnections;
  if (maxConnections < config.server.maxConnections) {
    logger.warn(
      { maxConnections, descriptorLimit },
      "MAX_CONNECTIONS lowered to stay below the open-file limit (raise `ulimit -n` to allow more)",
    );
  }
  const admin = app.adminServer?.address() as AddressInfo | null | undefined; // listening on a host and port
  logger.info(
    {
      port: address.port,
      host: address.address,
      adminPort: admin?.port,
      maxConnections,
      tokenUrl: `${config.upstream.baseUrl}${config.upstream.tokenPath}`,
    },
    `aspose-token-subgraph ready at http://${host === "0.0.0.0" ? "localhost" : host}:${address.port}/graphql`,
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
      .shutdown(config.server.shutdownTimeoutMs)
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

/**
 * The soft limit on open files (`ulimit -n`), read from /proc on Linux; undefined elsewhere or when
 * unlimited, and then MAX_CONNECTIONS is used as configured.
 */
function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync("/proc/self/limits", "utf8");
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined;
  }
}

await main();
