/**
 * The audit key: AUDIT_KEY as given; unset, derived from TOKEN_CACHE_KEY (the same on every replica
 * that shares the cache key, and not the cache key itself); with neither, one of this process only.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { loadConfig } from "../../src/config/index.js";

const CACHE_KEY = Buffer.alloc(32, 9).toString("base64");
const AUDIT_KEY = Buffer.alloc(32, 7).toString("base64");

test("AUDIT_KEY is used as given", () => {
  const { audit } = loadConfig({ AUDIT_KEY, TOKEN_CACHE_KEY: CACHE_KEY });
  assert.equal(audit.keySource, "explicit");
  assert.equal(audit.key.toString("base64"), AUDIT_KEY);
});

test("unset, the key is derived from TOKEN_CACHE_KEY: the same for every replica, never the cache key", () => {
  const one = loadConfig({ TOKEN_CACHE_KEY: CACHE_KEY }).audit;
  const other = loadConfig({ TOKEN_CACHE_KEY: CACHE_KEY }).audit;
  assert.equal(one.keySource, "derived");
  assert.equal(one.key.length, 32);
  assert.ok(one.key.equals(other.key));
  assert.ok(!one.key.equals(Buffer.from(CACHE_KEY, "base64")));
  const rotated = loadConfig({ TOKEN_CACHE_KEY: Buffer.alloc(32, 8).toString("base64") }).audit;
  assert.ok(!rotated.key.equals(one.key));
});

test("with neither key the audit key is this process's own", () => {
  const one = loadConfig({}).audit;
  assert.equal(one.keySource, "per-process");
  assert.ok(!one.key.equals(loadConfig({}).audit.key));
});

test("the defaults: stdout, HMAC only, cache hits included; a file path is taken as given", () => {
  const { audit } = loadConfig({});
  assert.deepEqual(audit.destination, { kind: "stdout" });
  assert.equal(audit.clientId, "hmac");
  assert.equal(audit.cacheHits, true);
  assert.deepEqual(loadConfig({ AUDIT_LOG: "/var/log/audit.jsonl" }).audit.destination, {
    kind: "file",
    path: "/var/log/audit.jsonl",
  });
  assert.deepEqual(loadConfig({ AUDIT_LOG: "off" }).audit.destination, { kind: "off" });
});
