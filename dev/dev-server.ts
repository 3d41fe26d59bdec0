/**
 * `npm run dev`: the service against a local fake Aspose, so a newcomer with no Aspose account can run
 * the mutation in Apollo Sandbox. Demo credentials: clientId `demo-client-id`, clientSecret
 * `demo-client-secret`. Any real-upstream setting in the environment is overridden.
 */
import { createApp } from "../src/app.js";
import { loadConfig } from "../src/config/index.js";
import { createLogger } from "../src/observability/logger.js";
import { ServiceMetrics } from "../src/observability/metrics.js";
import { FakeAspose } from "./fake-aspose.js";

export const DEMO_CLIENT_ID = "demo-client-id";
export const DEMO_CLIENT_SECRET = "demo-client-secret";

const fake = await FakeAspose.start({ clients: { [DEMO_CLIENT_ID]: DEMO_CLIENT_SECRET } });
const config = loadConfig({ ...process.env, NODE_ENV: "development", ASPOSE_BASE_URL: fake.url });
const logger = createLogger(config.telemetry.logLevel);
const app = createApp({ config, logger, metrics: new ServiceMetrics({ defaultMetrics: true }) });
const address = await app.listen(config.server.port, config.server.host);
const url = `http://localhost:${address.port}/graphql`;
logger.info(
  { fakeAspose: fake.url },
  `Dev server at ${url} (fake Aspose). Open it in a browser for Apollo Sandbox; demo credentials: ` +
    `clientId "${DEMO_CLIENT_ID}", clientSecret "${DEMO_CLIENT_SECRET}" (pass both as variables).`,
);

const stop = async (): Promise<void> => {
  await app.shutdown(config.server.shutdownTimeoutMs);
  await fake.close();
  process.exit(0);
};
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
