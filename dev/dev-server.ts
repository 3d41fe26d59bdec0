/**
 * `npm run dev`: the service against a local fake Aspose, so a newcomer with no Aspose account can run
 * the mutation in the explorer, which opens with the demo credentials filled in: clientId
 * `demo-client-id`, clientSecret `demo-client-secret`. Any real-upstream setting in the environment is
 * overridden; everything else is read as `npm start` reads it (OTEL_EXPORTER_OTLP_ENDPOINT traces, a
 * busy PORT is one line). `FAKE_ASPOSE_PAIR_RATE_LIMIT=on` gives the fake Aspose's documented per-pair
 * limit: five failed requests for a clientId + clientSecret pair, then 429 with Retry-After for 600 s.
 */
import { createApp } from "../src/app.js";
import { loadConfig, unsetBlankVariables } from "../src/config/index.js";
import { listenFailure } from "../src/http/listen-failure.js";
import { createLogger, fileDestination } from "../src/observability/logger.js";
import { ServiceMetrics } from "../src/observability/metrics.js";
import { startTracing } from "../src/observability/tracing.js";
import type { DestinationStream } from "pino";
import { FakeAspose } from "./fake-aspose.js";

export const DEMO_CLIENT_ID = "demo-client-id";
export const DEMO_CLIENT_SECRET = "demo-client-secret";

unsetBlankVariables(process.env);
const fake = await FakeAspose.start({
  clients: { [DEMO_CLIENT_ID]: DEMO_CLIENT_SECRET },
  pairRateLimit: process.env.FAKE_ASPOSE_PAIR_RATE_LIMIT === "on" ? {} : undefined,
});
const config = loadConfig({ ...process.env, NODE_ENV: "development", ASPOSE_BASE_URL: fake.url });
const logger = createLogger(config.telemetry.logLevel);
const tracing = await startTracing(config.telemetry.tracing);
const app = createApp({
  config,
  logger,
  metrics: new ServiceMetrics({ defaultMetrics: true }),
  tracing,
  explorerVariables: { clientId: DEMO_CLIENT_ID, clientSecret: DEMO_CLIENT_SECRET },
  auditDestination: auditDestination(),
});
const { host, port } = config.server;
const address = await app.listen(port, host).catch(async (error: unknown): Promise<never> => {
  const line = listenFailure(error, host, port);
  if (line === undefined) throw error;
  await fake.close();
  process.stderr.write(`${line}\n`);
  process.exit(1);
});
const url = `http://localhost:${address.port}/graphql`;
logger.info(
  {
    port: address.port,
    fakeAspose: fake.url,
    explorer: config.server.explorer,
    tracing: tracing.enabled ? "on" : "off",
  },
  `Dev server at ${url} (fake Aspose). Open it in a browser: the explorer opens with the demo ` +
    `credentials, clientId "${DEMO_CLIENT_ID}", clientSecret "${DEMO_CLIENT_SECRET}" (sent as variables).`,
);

/** AUDIT_LOG as main.ts reads it, unbuffered: a developer watches the lines as they come. */
function auditDestination(): NodeJS.WritableStream | DestinationStream | undefined {
  const target = config.audit.destination;
  if (target.kind === "file") return fileDestination(target.path).stream;
  return target.kind === "off" ? undefined : process[target.kind];
}

const stop = async (): Promise<void> => {
  await app.shutdown(config.server.shutdownTimeoutMs);
  await fake.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
