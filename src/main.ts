/**
 * The process entry point, and the only module that reads process.env, listens and handles signals.
 */
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import type { Config } from "./config/index.js";
import type { LogDestination } from "./observability/logger.js";

/**
 * SIGTERM and SIGINT from the process's first moment. In a container the service is PID 1, and the
 * kernel drops a signal PID 1 has no handler for: a stop during the second or so that loading takes
 * would be ignored until SIGKILL. A signal that comes before the service is up is held and handled as
 * soon as it is (a drain with nothing in flight); a second one exits at once.
 */
let heldSignal: NodeJS.Signals | undefined;
let onSignal = (signal: NodeJS.Signals): void => {
  if (heldSignal !== undefined) process.exit(1);
  heldSignal = signal;
};
process.on("SIGTERM", (signal) => onSignal(signal));
process.on("SIGINT", (signal) => onSignal(signal));

// Loaded only now, with the handlers above in place.
const [
  { createApp },
  { ConfigError, loadConfig, SHUTDOWN_GRACE_MS, unsetBlankVariables },
  { describeConfig },
  { listenFailure },
  { createLogger, fileDestination, stderrDestination, stdoutDestination },
  { ServiceMetrics },
  { startTracing },
  { SERVICE_VERSION },
] = await Promise.all([
  import("./app.js"),
  import("./config/index.js"),
  import("./config/summary.js"),
  import("./http/listen-failure.js"),
  import("./observability/logger.js"),
  import("./observability/metrics.js"),
  import("./observability/tracing.js"),
  import("./version.js"),
]);

/** How long the last log lines get to reach stdout at exit. */
const LOG_FINISH_MS = 1000;

function loadConfigOrExit(): Config {
  unsetBlankVariables(process.env);
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
  // second, so a quiet service's lines are never held back for long, and at exit.
  const destination = stdoutDestination();
  setInterval(() => destination.flush(), 1000).unref();
  const logger = createLogger(config.telemetry.logLevel, destination.stream);
  const audit = auditDestination(config, destination);
  if (audit !== undefined && audit !== destination) setInterval(() => audit.flush(), 1000).unref();
  const metrics = new ServiceMetrics({ defaultMetrics: true });
  // Before the app: the SDK's context manager must be registered before any request runs.
  const tracing = await startTracing(config.telemetry.tracing);
  const descriptorLimit = openFileLimit();
  const app = createApp({
    config,
    logger,
    metrics,
    tracing,
    descriptorLimit,
    auditDestination: audit?.stream,
  });
  const { host, port } = config.server;
  const address = await app.listen(port, host).catch(async (error: unknown): Promise<never> => {
    const line = listenFailure(error, host, port);
    if (line === undefined) throw error;
    await destination.finish(LOG_FINISH_MS);
    process.stderr.write(`${line}\n`);
    process.exit(1);
  });
  const maxConnections = app.httpServer.maxConnections;
  if (maxConnections < config.server.maxConnections) {
    logger.warn(
      { maxConnections, descriptorLimit },
      "MAX_CONNECTIONS lowered to stay below the open-file limit (raise `ulimit -n` to allow more)",
    );
  }
  const admin = app.adminServer?.address() as AddressInfo | null | undefined; // listening on a host and port
  // One line that says what is running: store, tracing, explorer, limits in force, upstream. Built
  // from an allow-list (config/summary.ts): nothing secret has a field in it.
  const summary = describeConfig(config);
  logger.info(
    {
      port: address.port,
      host: address.address,
      adminPort: admin?.port,
      ...summary,
      limits: { ...summary.limits, maxConnections },
      tokenUrl: app.tokenUrl,
      version: SERVICE_VERSION,
    },
    `aspose-token-subgraph ready at ${app.tls === undefined ? "http" : "https"}://${host === "0.0.0.0" ? "localhost" : host}:${address.port}/graphql`,
  );
  // Orchestrators and people watch for this line: do not hold it in the buffer.
  destination.flush();

  // Exit codes: 0 when every request finished and every log line was written; 1 when anything was
  // cut (requests answered SHUTTING_DOWN at the deadline, log lines stdout could not take, a second
  // signal, the hard limit) or shutdown failed.
  let stopping = false;
  const exit = async (code: number): Promise<never> => {
    const [written, audited] = await Promise.all([
      destination.finish(LOG_FINISH_MS),
      audit === destination || audit === undefined ? true : audit.finish(LOG_FINISH_MS),
    ]);
    process.exit(written && audited ? code : Math.max(code, 1));
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // An operator (or an orchestrator) insisting: do not make them reach for SIGKILL.
      logger.warn({ signal }, "Second signal: exiting now");
      void exit(1);
      return;
    }
    stopping = true;
    // The hard limit. Whatever shutdown waits on (a store that does not answer, a stuck log reader),
    // the process ends this long after the first signal. Nothing in shutdown blocks the event loop,
    // so this timer fires; it is not unref'd, because it must not be the reason the loop runs dry early
    // either: every path ends in process.exit.
    setTimeout(() => {
      logger.error({ limitMs: hardLimitMs }, "Shutdown did not finish in time: exiting");
      process.exit(1);
    }, hardLimitMs);
    logger.info({ signal }, "Shutting down: finishing in-flight requests");
    destination.flush();
    app
      .shutdown(config.server.shutdownTimeoutMs)
      .then(({ cutRequests }) => {
        logger.info(
          { cutRequests },
          cutRequests === 0 ? "Shut down cleanly" : "Shut down; requests were cut",
        );
        return exit(cutRequests === 0 ? 0 : 1);
      })
      .catch((error: unknown) => {
        logger.error({ err: error }, "Shutdown failed");
        return exit(1);
      });
  };
  const hardLimitMs = config.server.shutdownTimeoutMs + SHUTDOWN_GRACE_MS;
  onSignal = stop;
  if (heldSignal !== undefined) stop(heldSignal);
  // With TLS, SIGHUP reloads the certificate, key and client CA (they are also watched). Without,
  // it keeps its default: the process ends.
  const { tls } = app;
  if (tls !== undefined) process.on("SIGHUP", () => tls.reload("signal"));
  process.on("unhandledRejection", (reason) => {
    logger.error({ err: reason }, "Unhandled promise rejection");
  });
}

/**
 * Where audit lines go: stdout shares the service log's destination (whole lines, one buffer, one
 * order); stderr and a file get their own. A file that cannot be opened stops start-up.
 */
function auditDestination(config: Config, stdout: LogDestination): LogDestination | undefined {
  const target = config.audit.destination;
  switch (target.kind) {
    case "off":
      return undefined;
    case "stdout":
      return stdout;
    case "stderr":
      return stderrDestination();
    case "file":
      try {
        return fileDestination(target.path);
      } catch (error) {
        const reason = error instanceof Error && "code" in error ? String(error.code) : "unknown error";
        process.stderr.write(`Invalid configuration: AUDIT_LOG cannot be opened for appending (${reason})\n`);
        process.exit(78); // EX_CONFIG
      }
  }
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
