import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
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
