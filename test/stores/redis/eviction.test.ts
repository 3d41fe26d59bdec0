/**
 * Redis's own eviction against the lockouts: a throwaway server with maxmemory and allkeys-lru, filled
 * by a flood of new credentials between wrong guesses. The service warns at start-up, /readyz and the
 * metrics say so, and the guessed clientId still meets its lockout at the threshold.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { type ExecuteResult, harnessFor, request, requestToken } from "../../support/harness.js";
import { eventually, readiness, sharingEnv, ThrowawayRedis } from "../../support/replicas.js";
import { metricIn } from "../../support/topologies.js";

const THRESHOLD = 5;

function code(result: ExecuteResult<unknown>): string {
  return result.errors?.[0]?.extensions?.code ?? "ok";
}

test("allkeys-lru under memory pressure: a warning at start-up, evictions counted, the lockout still holds", async (t) => {
  const server = await ThrowawayRedis.start({
    args: ["--maxmemory", "2mb", "--maxmemory-policy", "allkeys-lru"],
  });
  t.after(() => server.kill());
  const harness = await harnessFor(t, {
    env: {
      REDIS_URL: server.url,
      ...sharingEnv("evict"),
      LOCKOUT_THRESHOLD: String(THRESHOLD),
      LOG_LEVEL: "info",
      // New credentials ten at a time, under a clock that never moves: the guesses' failures would
      // hold their places in the guess budget for good. This test is about eviction.
      UPSTREAM_GUESS_BUDGET_PER_SECOND: "1000",
    },
  });
  const ready = await eventually("/readyz to name the eviction policy", async () => {
    const { body } = await readiness(harness);
    return String(body.redisDegraded ?? "").includes("store:evicting_policy") ? body : undefined;
  });
  assert.equal(ready.redis, "degraded");
  assert.ok(harness.logs.some((line) => line.includes("maxmemory-policy") && line.includes("allkeys-lru")));

  const target = { clientId: `evict-${randomBytes(6).toString("hex")}`, clientSecret: "the-right-one-e1" };
  harness.fake.addClient(target.clientId, target.clientSecret);
  const outcomes: string[] = [];
  for (let guess = 0; guess < 10; guess++) {
    outcomes.push(code(await requestToken(harness, { ...target, clientSecret: `wrong-${guess}` })));
    // About 2 MB of new tokens between two guesses: enough to evict whatever LRU picks.
    const flood = Array.from({ length: 150 }, () => ({
      clientId: `flood-${randomBytes(6).toString("hex")}`,
      clientSecret: "flood-secret-0001",
    }));
    for (const credential of flood) harness.fake.addClient(credential.clientId, credential.clientSecret);
    for (let i = 0; i < flood.length; i += 10)
      await Promise.all(flood.slice(i, i + 10).map((credential) => requestToken(harness, credential)));
  }
  const text = (await request(harness, "/metrics")).text;
  const evicted = metricIn(text, "shared_store_evicted_keys") ?? 0;
  process.stdout.write(
    `# allkeys-lru: ${evicted} keys evicted; upstream saw ${harness.fake.countFor(target.clientId)} of 10 guesses\n`,
  );
  assert.ok(evicted > 0, "the flood evicted keys");
  assert.equal(harness.fake.countFor(target.clientId), THRESHOLD);
  assert.deepEqual(outcomes.slice(THRESHOLD), Array<string>(10 - THRESHOLD).fill("TOO_MANY_ATTEMPTS"));
});
