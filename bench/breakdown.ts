/**
 * `npm run bench:breakdown`: where the cache hit's extra CPU goes. Each piece of work the service does
 * on a hit that a bare Apollo Server does not is run on its own, in this process, many times, and
 * reported in µs per request. The sum is set against the hit − bare CPU per request of a throughput
 * run (docs/benchmarks.md, Results); what it does not explain is Apollo's plugin hooks, the extra async
 * hops and the garbage they make. Absolute figures vary with the machine; read them side by side.
 */
import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { HeaderMap } from "@apollo/server";
import DataLoader from "dataloader";
import { DateTimeResolver } from "graphql-scalars";
import { pino } from "pino";
import { loadConfig } from "../src/config/index.js";
import { contextFactory } from "../src/graphql/context.js";
import { RefusalCache } from "../src/graphql/refusal-cache.js";
import { accessLog } from "../src/http/access-log.js";
import { requestIdOf } from "../src/http/request-id.js";
import { CredentialGate } from "../src/limits/credential-gate.js";
import { createLogger } from "../src/observability/logger.js";
import { ServiceMetrics } from "../src/observability/metrics.js";
import { AccessToken } from "../src/resolvers/AccessToken.js";
import { createStores } from "../src/stores/index.js";
import { CredentialKeyer } from "../src/tokens/credential.js";
import { TokenService } from "../src/tokens/token-service.js";
import type { IssuedToken, ServedToken } from "../src/tokens/types.js";
import { ACCESS_TOKEN_MUTATION } from "./lib/operations.js";

const N = Number(process.env.BENCH_BREAKDOWN_N ?? 200_000);
const ID = "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77";
const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";

/** µs per call of `work`, after a warm-up, as the median of 5 rounds. */
async function perCall(work: () => unknown): Promise<number> {
  const rounds: number[] = [];
  for (let i = 0; i < N / 10; i++) await work();
  for (let round = 0; round < 5; round++) {
    const started = process.cpuUsage();
    for (let i = 0; i < N / 5; i++) await work();
    const used = process.cpuUsage(started);
    rounds.push((used.user + used.system) / (N / 5));
  }
  rounds.sort((a, b) => a - b);
  return rounds[2] ?? 0;
}

const config = loadConfig({ NODE_ENV: "production", LOG_LEVEL: "info" });
const logger = createLogger("info", pino.destination({ dest: "/dev/null", sync: false, minLength: 4096 }));
const metrics = new ServiceMetrics({ defaultMetrics: false });
const keyer = new CredentialKeyer(config.tokens.key, "https://api.aspose.cloud/v4.0/cells/connect/token");
const now = Date.now();
const token: IssuedToken = {
  accessToken: "header.payload.signature",
  tokenType: "Bearer",
  issuedAtMs: now,
  expiresAtMs: now + 3_600_000,
  scopes: ["api.storage"],
  defaultStorage: null,
};
const stores = createStores({ config, logger, metrics, clock: Date.now });
const credential = keyer.credential(ID, SECRET);
await stores.tokenStore.put(credential, token, 3_600_000);
const service = new TokenService({
  issuer: { issue: async () => token },
  store: stores.tokenStore,
  gate: new CredentialGate({ limiter: stores.limiter, verifiers: stores.verifiers }),
  forceRefreshMinIntervalMs: 10_000,
  policy: {
    margin: { minSeconds: config.tokens.refreshMarginMinSeconds, ratio: config.tokens.refreshMarginRatio },
    ahead: { minSeconds: config.tokens.refreshAheadSeconds, ratio: config.tokens.refreshAheadRatio },
  },
  clock: Date.now,
  claimWaitMs: 1000,
});
const refusals = new RefusalCache();
const log = accessLog(logger);
const request = new IncomingMessage(new Socket());
Object.assign(request.headers, {
  host: "127.0.0.1:4000",
  "content-type": "application/json",
  "content-length": "400",
  accept: "application/json",
  connection: "keep-alive",
});
const served: ServedToken = { token, source: "cache", servedAtMs: now };
const caller = { addressKey: keyer.addressKey("127.0.0.1") };
const makeContext = contextFactory(service, keyer, () => ({ ready: true, upstream: "closed" }));

const pieces: Array<[string, () => unknown]> = [
  ["request id (header absent: a UUID)", () => requestIdOf(request, "x-request-id")],
  [
    "access-log line (pino, buffered)",
    () => log({ requestId: "r", method: "POST", path: "/graphql", status: 200, outcome: "ok", started: 0 }),
  ],
  [
    "two metric increments",
    () => {
      metrics.graphqlRequest("ok");
      metrics.tokenLookup("cache");
    },
  ],
  [
    "refusal-cache lookup of a document never refused (length check, no digest, no negotiation)",
    () => refusals.lookup(ACCESS_TOKEN_MUTATION, "application/json"),
  ],
  [
    "request headers into Apollo's HeaderMap",
    () => {
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
    },
  ],
  ["context: DataLoader and caller key", () => makeContext({ requestId: "r", clientAddress: "127.0.0.1" })],
  ["credential handle (HMAC of the pair)", () => keyer.credential(ID, SECRET)],
  [
    "token service: gate, store, freshness",
    () => service.issue({ credential, minValiditySeconds: 0, forceRefresh: false }, caller),
  ],
  [
    "DataLoader load (one key)",
    async () => {
      const loader = new DataLoader<string, number>(async (keys) => keys.map(() => 1), { batch: false });
      await loader.load("k");
    },
  ],
  [
    "AccessToken's 9 fields and 2 DateTimes",
    () => {
      for (const resolve of Object.values(AccessToken)) {
        if (typeof resolve === "function") resolve(served, {}, {} as never, {} as never);
      }
      DateTimeResolver.serialize(new Date(token.expiresAtMs));
      DateTimeResolver.serialize(new Date(token.issuedAtMs));
    },
  ],
];

let total = 0;
console.log(`Hit-path pieces, CPU µs per request (median of 5 rounds of ${N / 5}), Node ${process.version}`);
for (const [name, work] of pieces) {
  const us = await perCall(work);
  total += us;
  console.log(`  ${name.padEnd(44)} ${us.toFixed(2)}`);
}
console.log(`  ${"sum".padEnd(44)} ${total.toFixed(2)}`);
await stores.close();
