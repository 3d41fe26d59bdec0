/**
 * The start-up line's description of the configuration: each store topology with its servers, tracing
 * with where it exports, the limits, the perimeter's proofs; and no password, key, router secret or
 * secret-bearing URL, whatever is set.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.js";
import { describeConfig } from "../../src/config/summary.js";

const KEY = Buffer.alloc(32, 7).toString("base64");
const SECRETS = {
  redisPassword: "r3dis-pa55word-never-logged",
  sentinelPassword: "s3ntinel-pa55word-never-logged",
  apolloKey: "service:aspose-tokens:ap0llo-k3y-never-logged",
  routerSecret: "r0uter-shared-s3cret-never-logged-0123456789",
  hmacSecret: "hmac-signing-s3cret-never-logged-0123456789ab",
};

function described(env: Record<string, string>): string {
  const line = JSON.stringify(describeConfig(loadConfig({ TOKEN_CACHE_KEY: KEY, ...env })));
  for (const secret of [...Object.values(SECRETS), KEY])
    assert.ok(!line.includes(secret), `a secret reached the start-up line: ${line}`);
  return line;
}

test("each store topology is named with its servers, never with its passwords", () => {
  const redis = JSON.parse(
    described({ REDIS_URL: `rediss://tokens:${SECRETS.redisPassword}@redis.internal:6380/2` }),
  );
  assert.deepEqual(redis.store, {
    kind: "redis",
    nodes: ["redis.internal:6380"],
    tls: true,
    keyPrefix: "aspose-token:",
  });
  const cluster = JSON.parse(
    described({
      REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2:7000",
      REDIS_PASSWORD: SECRETS.redisPassword,
    }),
  );
  assert.deepEqual(cluster.store.kind, "cluster");
  assert.deepEqual(cluster.store.nodes, ["10.0.0.1:7000", "10.0.0.2:7000"]);
  const sentinel = JSON.parse(
    described({
      REDIS_SENTINELS: "10.0.0.5:26379",
      REDIS_SENTINEL_MASTER: "tokens",
      REDIS_PASSWORD: SECRETS.redisPassword,
      REDIS_SENTINEL_PASSWORD: SECRETS.sentinelPassword,
    }),
  );
  assert.deepEqual(
    { kind: sentinel.store.kind, nodes: sentinel.store.nodes, masterName: sentinel.store.masterName },
    { kind: "sentinel", nodes: ["10.0.0.5:26379"], masterName: "tokens" },
  );
  assert.deepEqual(JSON.parse(described({})).store, { kind: "memory" });
});

test("tracing, the explorer, the limits and the upstream are stated; Apollo's key is not", () => {
  const line = JSON.parse(
    described({
      NODE_ENV: "production",
      APOLLO_KEY: SECRETS.apolloKey,
      APOLLO_GRAPH_REF: "aspose-tokens@current",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://collector.internal/v1/traces",
      OTEL_TRACES_SAMPLER: "traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
      REQUEST_BODY_LIMIT_BYTES: "8192",
      MAX_CONNECTIONS_PER_ADDRESS: "64",
      LOCKOUT_THRESHOLD: "7",
      ASPOSE_BASE_URL: "https://api.aspose.cloud:8443",
    }),
  );
  assert.deepEqual(line.tracing, {
    exporter: "otlp",
    protocol: "http/protobuf",
    endpoint: "https://collector.internal/v1/traces",
    sampler: "traceidratio(0.25)",
  });
  assert.equal(line.explorer, "off");
  assert.equal(line.introspection, false);
  assert.equal(line.limits.bodyBytes, 8192);
  assert.equal(line.limits.maxConnectionsPerAddress, 64);
  assert.equal(line.limits.requestTimeoutMs, 5000);
  assert.equal(line.lockout.threshold, 7);
  assert.equal(line.upstreamHost, "api.aspose.cloud:8443");
  assert.deepEqual(line.perimeter, { routerOnly: [], tls: false });
  assert.equal(JSON.parse(described({})).tracing, "off");
});

test("the audit log is stated by where it goes and whose key it uses, never by the key", () => {
  const auditKey = Buffer.alloc(32, 3).toString("base64");
  const line = JSON.parse(described({ AUDIT_KEY: auditKey, AUDIT_LOG: "/var/log/audit.jsonl" }));
  assert.ok(!JSON.stringify(line).includes(auditKey));
  assert.deepEqual(line.audit, { log: "file", key: "explicit", clientId: "hmac", cacheHits: true });
  assert.equal(JSON.parse(described({})).audit.key, "derived");
});

test("the perimeter is stated by the proofs it requires, never by their secrets", () => {
  const line = JSON.parse(
    described({ ROUTER_SECRET: SECRETS.routerSecret, ROUTER_HMAC_SECRET: SECRETS.hmacSecret }),
  );
  assert.deepEqual(line.perimeter, { routerOnly: ["shared-secret", "hmac"], tls: false });
});
