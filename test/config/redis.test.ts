import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";

test("REDIS_URL without TOKEN_CACHE_KEY stops start-up, naming TOKEN_CACHE_KEY", () => {
  assert.throws(
    () => loadConfig({ REDIS_URL: "redis://127.0.0.1:6379" }),
    (error) => error instanceof ConfigError && error.message.includes("TOKEN_CACHE_KEY"),
  );
});

test("REDIS_URL with a TOKEN_CACHE_KEY is accepted; without REDIS_URL the key stays optional", () => {
  const key = randomBytes(32).toString("base64");
  const config = loadConfig({ REDIS_URL: "redis://:pw@127.0.0.1:6379/0", TOKEN_CACHE_KEY: key });
  assert.equal(config.store.kind === "redis" && config.store.url, "redis://:pw@127.0.0.1:6379/0");
  assert.equal(loadConfig({}).store.kind, "memory");
});

const KEY = randomBytes(32).toString("base64");

/** Asserts loadConfig refuses `env` with a ConfigError naming every one of `names`, echoing no value. */
function refuses(env: Record<string, string>, ...names: string[]): void {
  assert.throws(
    () => loadConfig({ TOKEN_CACHE_KEY: KEY, ...env }),
    (error) => {
      assert.ok(error instanceof ConfigError, String(error));
      for (const name of names) assert.ok(error.message.includes(name), `${error.message} names ${name}`);
      for (const value of Object.values(env))
        if (value.length > 3 && !names.includes(value))
          assert.equal(error.message.includes(value), false, `${error.message} echoes a value`);
      return true;
    },
  );
}

test("REDIS_CLUSTER_NODES makes a cluster store, with auth and TLS from their own variables", () => {
  const config = loadConfig({
    TOKEN_CACHE_KEY: KEY,
    REDIS_CLUSTER_NODES: "127.0.0.1:7000, cache.example.internal:7001,[::1]:7002",
    REDIS_USERNAME: "svc",
    REDIS_PASSWORD: "pw-cluster-0001",
    REDIS_TLS: "on",
  });
  assert.deepEqual(config.store, {
    kind: "cluster",
    nodes: [
      { host: "127.0.0.1", port: 7000 },
      { host: "cache.example.internal", port: 7001 },
      { host: "::1", port: 7002 },
    ],
    auth: { username: "svc", password: "pw-cluster-0001" },
    tls: { ca: undefined },
    keyPrefix: "aspose-token:",
    commandTimeoutMs: 250,
    evictingPolicy: "warn",
  });
});

test("REDIS_SENTINELS with REDIS_SENTINEL_MASTER makes a sentinel store; sentinels may have their own auth", () => {
  const config = loadConfig({
    TOKEN_CACHE_KEY: KEY,
    REDIS_SENTINELS: "127.0.0.1:26379,127.0.0.1:26380",
    REDIS_SENTINEL_MASTER: "primary",
    REDIS_PASSWORD: "pw-data-0002",
    REDIS_SENTINEL_PASSWORD: "pw-sentinel-0003",
  });
  assert.equal(config.store.kind, "sentinel");
  if (config.store.kind !== "sentinel") return;
  assert.equal(config.store.masterName, "primary");
  assert.deepEqual(config.store.sentinels, [
    { host: "127.0.0.1", port: 26379 },
    { host: "127.0.0.1", port: 26380 },
  ]);
  assert.deepEqual(config.store.auth, { username: undefined, password: "pw-data-0002" });
  assert.deepEqual(config.store.sentinelAuth, { username: undefined, password: "pw-sentinel-0003" });
  assert.equal(config.store.tls, undefined);
});

test("a shared store of any topology needs TOKEN_CACHE_KEY", () => {
  for (const env of [
    { REDIS_CLUSTER_NODES: "127.0.0.1:7000" },
    { REDIS_SENTINELS: "127.0.0.1:26379", REDIS_SENTINEL_MASTER: "primary" },
  ])
    assert.throws(
      () => loadConfig(env),
      (error) => error instanceof ConfigError && error.message.includes("TOKEN_CACHE_KEY"),
    );
});

test("more than one topology stops start-up, naming the variables set", () => {
  refuses(
    { REDIS_URL: "redis://127.0.0.1:6379", REDIS_CLUSTER_NODES: "127.0.0.1:7000" },
    "REDIS_URL",
    "REDIS_CLUSTER_NODES",
  );
  refuses(
    { REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_SENTINELS: "127.0.0.1:26379", REDIS_SENTINEL_MASTER: "m" },
    "REDIS_CLUSTER_NODES",
    "REDIS_SENTINELS",
  );
  refuses(
    { REDIS_URL: "redis://127.0.0.1:6379", REDIS_SENTINELS: "127.0.0.1:26379" },
    "REDIS_URL",
    "REDIS_SENTINELS",
  );
});

test("REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS and refused without it", () => {
  refuses({ REDIS_SENTINELS: "127.0.0.1:26379" }, "REDIS_SENTINEL_MASTER");
  refuses({ REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_SENTINEL_MASTER: "m" }, "REDIS_SENTINEL_MASTER");
  refuses(
    { REDIS_URL: "redis://127.0.0.1:6379", REDIS_SENTINEL_PASSWORD: "pw-s-0004" },
    "REDIS_SENTINEL_PASSWORD",
  );
  refuses({ REDIS_SENTINEL_MASTER: "m" }, "REDIS_SENTINEL_MASTER");
});

test("a bad node list stops start-up without echoing it", () => {
  for (const bad of [
    "127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:70000",
    "user:secret-pw@127.0.0.1:7000",
    ",",
    "cache:port",
  ])
    refuses({ REDIS_CLUSTER_NODES: bad }, "REDIS_CLUSTER_NODES");
  refuses({ REDIS_SENTINELS: "127.0.0.1:x", REDIS_SENTINEL_MASTER: "m" }, "REDIS_SENTINELS");
});

test("REDIS_USERNAME, REDIS_PASSWORD and REDIS_TLS are refused with REDIS_URL (it carries its own) and without a store", () => {
  for (const name of ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS"]) {
    refuses({ REDIS_URL: "redis://127.0.0.1:6379", [name]: "on" }, name, "REDIS_URL");
    refuses({ [name]: "on" }, name);
  }
  // The default written out, as .env.example does, is not a setting.
  assert.equal(
    loadConfig({ TOKEN_CACHE_KEY: KEY, REDIS_URL: "redis://127.0.0.1:6379", REDIS_TLS: "off" }).store.kind,
    "redis",
  );
  assert.equal(loadConfig({ REDIS_TLS: "off" }).store.kind, "memory");
});

test("REDIS_TLS must be a flag; REDIS_TLS_CA_FILE needs TLS and a readable PEM file", () => {
  refuses({ REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS: "maybe" }, "REDIS_TLS");
  refuses({ REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS_CA_FILE: "/etc/hostname" }, "REDIS_TLS_CA_FILE");
  refuses({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_TLS_CA_FILE: "/etc/hostname" }, "REDIS_TLS_CA_FILE");
  refuses(
    { REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS: "on", REDIS_TLS_CA_FILE: "/nonexistent/ca.pem" },
    "REDIS_TLS_CA_FILE",
  );
  refuses(
    { REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_TLS: "on", REDIS_TLS_CA_FILE: "/etc/hostname" },
    "REDIS_TLS_CA_FILE",
  );
});

test("a private CA is read once at start-up, for rediss:// and for REDIS_TLS=on", async () => {
  const dir = await mkdtemp(join(tmpdir(), "redis-ca-"));
  try {
    const file = join(dir, "ca.pem");
    const pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    await writeFile(file, pem);
    const url = loadConfig({
      TOKEN_CACHE_KEY: KEY,
      REDIS_URL: "rediss://127.0.0.1:6380",
      REDIS_TLS_CA_FILE: file,
    });
    assert.equal(url.store.kind === "redis" && url.store.tls?.ca?.toString(), pem);
    const cluster = loadConfig({
      TOKEN_CACHE_KEY: KEY,
      REDIS_CLUSTER_NODES: "127.0.0.1:7000",
      REDIS_TLS: "on",
      REDIS_TLS_CA_FILE: file,
    });
    assert.equal(cluster.store.kind === "cluster" && cluster.store.tls?.ca?.toString(), pem);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("REDIS_KEY_PREFIX may not hold braces: they would become the cluster hash tag", () => {
  refuses({ REDIS_URL: "redis://127.0.0.1:6379", REDIS_KEY_PREFIX: "app{x}:" }, "REDIS_KEY_PREFIX");
  refuses({ REDIS_CLUSTER_NODES: "127.0.0.1:7000", REDIS_KEY_PREFIX: "app{" }, "REDIS_KEY_PREFIX");
});
