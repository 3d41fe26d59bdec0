/**
 * The process entry point, and the only module that reads process.env, listens and handles signals.
 */
import { pino } from "pino";
import { createApp } from "./app.js";
import { type Config, ConfigError, loadConfig } from "./config/index.js";
import { createLogger } from "./observability/logger.js";
import { ServiceMetrics } from "./observability/metrics.js";
import { startTracing } from "./observability/tracing.js";

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
  // Before the app: the SDK's context manager must be registered before any request runs.
  const tracing = await startTracing(config.telemetry.tracing);
  const app = createApp({ config, logger, metrics, tracing });
  const { host, port } = config.server;
  // --- listen errors (federation branch): one line an operator can act on, not a stack trace.
  const address = await app.listen(port, host).catch((error: unknown) => {
    const code = error instanceof Error && "code" in error ? error.code : undefined;
    const why =
      code === "EADDRINUSE"
        ? "is already in use: stop the other process or set PORT"
        : code === "EACCES"
          ? "needs privileges this process lacks: use a port above 1023 or set PORT"
          : code === "EADDRNOTAVAIL"
            ? "is not an address of this machine: check HOST"
            : undefined;
    if (why === undefined) throw error;
    destination.flushSync();
    process.stderr.write(`Cannot listen on ${host}:${port}: the address ${why}.\n`);
    process.exit(1);
  });
  // --- end listen errors
  logger.info(
    {
      port: address.port,
      host: address.address,
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

await main();
