import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";

function refused(env: Record<string, string>, name: string): void {
  assert.throws(
    () => loadConfig(env),
    (error) => error instanceof ConfigError && error.message.startsWith(name),
    `${JSON.stringify(env)} should be refused naming ${name}`,
  );
}

test("TRUST_PROXY_HOPS is refused at start-up, pointing at TRUSTED_PROXIES", () => {
  assert.throws(
    () => loadConfig({ TRUST_PROXY_HOPS: "1" }),
    (error) =>
      error instanceof ConfigError &&
      error.message.startsWith("TRUST_PROXY_HOPS") &&
      error.message.includes("TRUSTED_PROXIES"),
  );
});

test("TRUSTED_PROXIES takes addresses, CIDRs and proxy-addr's names, and refuses anything else", () => {
  assert.deepEqual(loadConfig({}).server.trustedProxies, []);
  assert.deepEqual(
    loadConfig({ TRUSTED_PROXIES: "10.0.0.0/8, 192.168.1.7,::1, fd00::/8 ,loopback" }).server.trustedProxies,
    ["10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8", "loopback"],
  );
  for (const bad of ["router.internal", "10.0.0.0/33", "10.0.0", "*"])
    refused({ TRUSTED_PROXIES: bad }, "TRUSTED_PROXIES");
});

test("VERIFIER_TTL_SECONDS and FORCE_REFRESH_MIN_INTERVAL_SECONDS have defaults and bounds", () => {
  const { limits } = loadConfig({});
  assert.equal(limits.verifierTtlSeconds, 86_400);
  assert.equal(limits.forceRefreshMinIntervalSeconds, 10);
  assert.equal(
    loadConfig({ FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0" }).limits.forceRefreshMinIntervalSeconds,
    0,
  );
  for (const bad of ["59", "2592001", "1.5", "-1", "day"])
    refused({ VERIFIER_TTL_SECONDS: bad }, "VERIFIER_TTL_SECONDS");
  for (const bad of ["3601", "-1", "ten"]) {
    refused({ FORCE_REFRESH_MIN_INTERVAL_SECONDS: bad }, "FORCE_REFRESH_MIN_INTERVAL_SECONDS");
  }
});
