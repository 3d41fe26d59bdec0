/**
 * Every variable's bad values stop start-up with a ConfigError that names the variable and never echoes
 * the value (a variable may hold a password or a key). One row per variable and way of being wrong;
 * variables that take any text are wrong only in combination, and their rows say so.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CONFIG_SECTIONS, ConfigError, loadConfig } from "../../src/config/index.js";

const KEY = Buffer.alloc(32, 7).toString("base64");
const BAD = "b0gus-VALUE-7x";

/** [the variable the message must name, the environment that is wrong]. */
const REFUSED: ReadonlyArray<readonly [string, Record<string, string>]> = [
  ["NODE_ENV", { NODE_ENV: BAD }],
  ["HOST", { HOST: `${BAD} with spaces` }],
  ["PORT", { PORT: BAD }],
  ["PORT", { PORT: "65536" }],
  ["LOG_LEVEL", { LOG_LEVEL: BAD }],
  ["REQUEST_ID_HEADER", { REQUEST_ID_HEADER: `${BAD}: x` }],
  ["TRUSTED_PROXIES", { TRUSTED_PROXIES: BAD }],
  ["TRUST_PROXY_HOPS", { TRUST_PROXY_HOPS: "1" }],
  ["CORS_ORIGINS", { CORS_ORIGINS: BAD }],
  ["INTROSPECTION", { INTROSPECTION: BAD }],
  ["SHUTDOWN_TIMEOUT_MS", { SHUTDOWN_TIMEOUT_MS: "-1" }],
  ["REQUEST_HEADERS_TIMEOUT_MS", { REQUEST_HEADERS_TIMEOUT_MS: "10" }],
  ["MAX_CONNECTIONS", { MAX_CONNECTIONS: "0" }],
  ["LISTEN_BACKLOG", { LISTEN_BACKLOG: BAD }],
  ["ADMIN_PORT", { ADMIN_PORT: BAD }],
  ["ADMIN_PORT", { PORT: "4000", ADMIN_PORT: "4000" }],
  ["ADMIN_HOST", { ADMIN_HOST: "127.0.0.1" }],
  ["ADMIN_HOST", { ADMIN_PORT: "9000", ADMIN_HOST: `${BAD} x` }],
  ["REQUEST_TIMEOUT_MS", { REQUEST_TIMEOUT_MS: "99" }],
  ["REQUEST_TIMEOUT_MS", { REQUEST_HEADERS_TIMEOUT_MS: "8000", REQUEST_TIMEOUT_MS: "6000" }],
  ["REQUEST_BODY_MIN_BYTES_PER_SECOND", { REQUEST_BODY_MIN_BYTES_PER_SECOND: "-1" }],
  ["REQUEST_BODY_BUDGET_BYTES", { REQUEST_BODY_BUDGET_BYTES: BAD }],
  ["REQUEST_BODY_BUDGET_BYTES", { REQUEST_BODY_BUDGET_BYTES: "2048", REQUEST_BODY_LIMIT_BYTES: "4096" }],
  ["MAX_CONNECTIONS_PER_ADDRESS", { MAX_CONNECTIONS_PER_ADDRESS: "0" }],
  ["TRUSTED_PROXY_CONNECTIONS", { TRUSTED_PROXY_CONNECTIONS: BAD }],
  ["PIPELINE_DEPTH", { PIPELINE_DEPTH: "0" }],
  ["SEND_TIMEOUT_MS", { SEND_TIMEOUT_MS: "99" }],
  ["ASPOSE_BASE_URL", { ASPOSE_BASE_URL: BAD }],
  ["ASPOSE_BASE_URL", { ASPOSE_BASE_URL: `https://user:${BAD}@api.aspose.cloud` }],
  ["ASPOSE_TOKEN_PATH", { ASPOSE_TOKEN_PATH: `/connect/token?secret=${BAD}` }],
  ["ASPOSE_TIMEOUT_MS", { ASPOSE_TIMEOUT_MS: "99" }],
  ["ASPOSE_TOTAL_TIMEOUT_MS", { ASPOSE_TIMEOUT_MS: "5000", ASPOSE_TOTAL_TIMEOUT_MS: "4000" }],
  ["ASPOSE_RETRY_LIMIT", { ASPOSE_RETRY_LIMIT: "11" }],
  ["ASPOSE_RETRY_BASE_DELAY_MS", { ASPOSE_RETRY_BASE_DELAY_MS: "0" }],
  ["ASPOSE_MAX_RETRY_AFTER_SECONDS", { ASPOSE_MAX_RETRY_AFTER_SECONDS: "1.5" }],
  ["ASPOSE_MAX_RESPONSE_BYTES", { ASPOSE_MAX_RESPONSE_BYTES: "100" }],
  ["ASPOSE_BREAKER_THRESHOLD", { ASPOSE_BREAKER_THRESHOLD: "0" }],
  ["ASPOSE_BREAKER_COOLDOWN_SECONDS", { ASPOSE_BREAKER_COOLDOWN_SECONDS: BAD }],
  ["ASPOSE_MAX_CONCURRENT_CALLS", { ASPOSE_MAX_CONCURRENT_CALLS: "0" }],
  ["ASPOSE_QUEUE_WAIT_MS", { ASPOSE_QUEUE_WAIT_MS: "-5" }],
  ["TOKEN_CACHE", { TOKEN_CACHE: BAD }],
  ["TOKEN_CACHE_MAX_ENTRIES", { TOKEN_CACHE_MAX_ENTRIES: "0" }],
  ["TOKEN_CACHE_KEY", { TOKEN_CACHE_KEY: "c2hvcnQ=" }],
  ["TOKEN_CACHE_KEY", { REDIS_URL: "redis://127.0.0.1:6379" }],
  ["TOKEN_REFRESH_MARGIN_SECONDS", { TOKEN_REFRESH_MARGIN_SECONDS: BAD }],
  ["TOKEN_REFRESH_MARGIN_RATIO", { TOKEN_REFRESH_MARGIN_RATIO: "1" }],
  ["TOKEN_REFRESH_AHEAD_SECONDS", { TOKEN_REFRESH_AHEAD_SECONDS: "-1" }],
  ["TOKEN_REFRESH_AHEAD_RATIO", { TOKEN_REFRESH_AHEAD_RATIO: BAD }],
  ["REQUEST_BODY_LIMIT_BYTES", { REQUEST_BODY_LIMIT_BYTES: "1023" }],
  ["MAX_TOKEN_FIELDS_PER_OPERATION", { MAX_TOKEN_FIELDS_PER_OPERATION: "0" }],
  ["GRAPHQL_MAX_ALIASES", { GRAPHQL_MAX_ALIASES: BAD }],
  ["GRAPHQL_MAX_TOKENS", { GRAPHQL_MAX_TOKENS: "49" }],
  ["GRAPHQL_MAX_DEPTH", { GRAPHQL_MAX_DEPTH: "20" }],
  ["GRAPHQL_MAX_DIRECTIVES", { GRAPHQL_MAX_DIRECTIVES: "20" }],
  ["REQUIRE_SECRET_VARIABLES", { REQUIRE_SECRET_VARIABLES: BAD }],
  ["LOCKOUT_THRESHOLD", { LOCKOUT_THRESHOLD: "0" }],
  ["LOCKOUT_WINDOW_SECONDS", { LOCKOUT_WINDOW_SECONDS: BAD }],
  ["LOCKOUT_BASE_SECONDS", { LOCKOUT_BASE_SECONDS: "0" }],
  ["LOCKOUT_MAX_SECONDS", { LOCKOUT_BASE_SECONDS: "60", LOCKOUT_MAX_SECONDS: "30" }],
  ["VERIFIER_TTL_SECONDS", { VERIFIER_TTL_SECONDS: "59" }],
  ["UPSTREAM_GUESS_BUDGET_PER_SECOND", { UPSTREAM_GUESS_BUDGET_PER_SECOND: "0" }],
  ["FORCE_REFRESH_MIN_INTERVAL_SECONDS", { FORCE_REFRESH_MIN_INTERVAL_SECONDS: BAD }],
  ["APOLLO_GRAPH_REF", { APOLLO_KEY: `service:${BAD}` }],
  ["REDIS_URL", { REDIS_URL: `http://:${BAD}@127.0.0.1`, TOKEN_CACHE_KEY: KEY }],
  ["REDIS_CLUSTER_NODES", { REDIS_CLUSTER_NODES: BAD, TOKEN_CACHE_KEY: KEY }],
  ["REDIS_SENTINELS", { REDIS_SENTINELS: BAD, REDIS_SENTINEL_MASTER: "mymaster", TOKEN_CACHE_KEY: KEY }],
  ["REDIS_SENTINEL_MASTER", { REDIS_SENTINELS: "127.0.0.1:26379", TOKEN_CACHE_KEY: KEY }],
  ["REDIS_USERNAME", { REDIS_USERNAME: BAD }],
  ["REDIS_PASSWORD", { REDIS_PASSWORD: BAD }],
  ["REDIS_TLS", { REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS: BAD, TOKEN_CACHE_KEY: KEY }],
  [
    "REDIS_TLS_CA_FILE",
    { REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS_CA_FILE: "/ca.pem", TOKEN_CACHE_KEY: KEY },
  ],
  ["REDIS_SENTINEL_USERNAME", { REDIS_SENTINEL_USERNAME: BAD }],
  ["REDIS_SENTINEL_PASSWORD", { REDIS_SENTINEL_PASSWORD: BAD }],
  ["REDIS_KEY_PREFIX", { REDIS_KEY_PREFIX: `{${BAD}}` }],
  ["REDIS_TIMEOUT_MS", { REDIS_TIMEOUT_MS: "9" }],
  [
    "REDIS_EVICTING_POLICY",
    { REDIS_URL: "redis://127.0.0.1:6379", TOKEN_CACHE_KEY: KEY, REDIS_EVICTING_POLICY: "ignore" },
  ],
  ["OTEL_TRACES_EXPORTER", { OTEL_TRACES_EXPORTER: BAD }],
  ["OTEL_EXPORTER_OTLP_ENDPOINT", { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: BAD }],
  [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: BAD },
  ],
  ["OTEL_EXPORTER_OTLP_PROTOCOL", { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }],
  [
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: BAD },
  ],
  ["OTEL_TRACES_SAMPLER", { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: BAD }],
  [
    "OTEL_TRACES_SAMPLER_ARG",
    { OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" },
  ],
  ["OTEL_SDK_DISABLED", { OTEL_SDK_DISABLED: BAD }],
  ["AUDIT_LOG", { AUDIT_LOG: `relative/${BAD}.log` }],
  ["AUDIT_KEY", { AUDIT_KEY: Buffer.from(BAD).toString("base64") }],
  ["AUDIT_CLIENT_ID", { AUDIT_CLIENT_ID: BAD }],
  ["AUDIT_CACHE_HITS", { AUDIT_CACHE_HITS: BAD }],
  ["ROUTER_SECRET", { ROUTER_SECRET: BAD }],
  ["ROUTER_SECRET", { ROUTER_SECRET: `${BAD.repeat(3)} with spaces` }],
  ["ROUTER_SECRET_PREVIOUS", { ROUTER_SECRET_PREVIOUS: BAD.repeat(3) }],
  ["ROUTER_SECRET_PREVIOUS", { ROUTER_SECRET: KEY, ROUTER_SECRET_PREVIOUS: BAD }],
  ["ROUTER_SECRET_HEADER", { ROUTER_SECRET_HEADER: `${BAD}: x` }],
  ["ROUTER_HMAC_SECRET", { ROUTER_HMAC_SECRET: BAD }],
  ["ROUTER_HMAC_SECRET_PREVIOUS", { ROUTER_HMAC_SECRET_PREVIOUS: BAD.repeat(3) }],
  ["TLS_CERT_FILE", { TLS_CERT_FILE: `/nonexistent/${BAD}.crt`, TLS_KEY_FILE: "/nonexistent/tls.key" }],
  ["TLS_KEY_FILE", { TLS_CERT_FILE: "/nonexistent/tls.crt" }],
  ["TLS_KEY_FILE", { TLS_KEY_FILE: "/nonexistent/tls.key" }],
  ["TLS_CLIENT_CA_FILE", { TLS_CLIENT_CA_FILE: "/nonexistent/ca.crt" }],
  ["TRUSTED_DOCUMENTS_FILE", { TRUSTED_DOCUMENTS_FILE: `/nonexistent/${BAD}.json` }],
  ["EXPLORER", { EXPLORER: BAD }],
];

describe("a bad value stops start-up, naming the variable and never echoing the value", () => {
  for (const [name, env] of REFUSED) {
    test(`${name}: ${JSON.stringify(env)}`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
          assert.match(error.message, new RegExp(`\\b${name}\\b`), error.message);
          assert.ok(!error.message.includes(BAD), `the value is echoed: ${error.message}`);
          return true;
        },
      );
    });
  }
});

test("every declared variable has a refusal row or is free text", () => {
  const declared = CONFIG_SECTIONS.flatMap((section) => Object.keys(section.variables));
  const covered = new Set(REFUSED.map(([name]) => name));
  // Any text is a valid value for these; what is checked about them is the company they keep (rows above).
  const freeText = new Set(["APOLLO_KEY", "OTEL_SERVICE_NAME"]);
  const missing = declared.filter((name) => !covered.has(name) && !freeText.has(name));
  assert.deepEqual(missing, []);
});

test("the defaults load, frozen", () => {
  const config = loadConfig({});
  assert.equal(config.server.port, 4000);
  assert.equal(config.store.kind, "memory");
  assert.equal(config.tokens.keySource, "random");
  assert.ok(Object.isFrozen(config.upstream));
});
