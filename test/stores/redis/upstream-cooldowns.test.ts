/**
 * Aspose's per-credential cool-downs shared through Redis: two replicas in-process (each its own app
 * and local tier) on one throwaway Redis, one fake Aspose in its Aspose-like per-pair mode and one
 * TestClock. A pair Aspose answered 429 through one replica is answered locally by the other; the key
 * holds no clientId or secret, lives no longer than the cap, and a forged value cannot stretch it;
 * with Redis unreachable, the replica's own memory still answers.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import { freePort } from "../../../dev/ports.js";
import {
  type ExecuteResult,
  type Harness,
  harnessFor,
  leakedSecrets,
  request,
  requestToken,
  served,
  startHarness,
  TestClock,
} from "../../support/harness.js";
import {
  assertNothingInClear,
  reachedRedis,
  scanKeys,
  throwawayRedisFor,
  uniquePrefix,
} from "../../support/replicas.js";
import { metricIn } from "../../support/topologies.js";

const redisServer = throwawayRedisFor();
const prefix = uniquePrefix("cooldowns");
let redis: Redis;

before(async () => {
  redis = new Redis(await redisServer.started());
});
after(async () => {
  // The throwaway server goes with its keys.
  redis.disconnect();
});

const SECOND = 1000;
const GUESSER_ID = "guesser-client-id";
const GUESS = "guessed-secret-0001";

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

function retryAfterOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.retryAfter;
}

function guess(harness: Harness): ReturnType<typeof requestToken> {
  return requestToken(harness, { clientId: GUESSER_ID, clientSecret: GUESS });
}

async function localRefusals(harness: Harness): Promise<number> {
  const text = (await request(harness, "/metrics")).text;
  return metricIn(text, "aspose_upstream_rate_limited_local_total") ?? 0;
}

/** Two replicas sharing Redis, the upstream (in its per-pair mode) and the clock. */
async function twoReplicas(label: string): Promise<{ a: Harness; b: Harness; fake: FakeAspose }> {
  const clock = new TestClock();
  const fake = await FakeAspose.start({ now: clock.now, pairRateLimit: {} });
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: `${prefix}${label}:`,
    TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
    LOCKOUT_THRESHOLD: "100",
  };
  const a = await startHarness({ clock, upstream: fake, env });
  const b = await startHarness({ clock, upstream: fake, env });
  await Promise.all([reachedRedis(a), reachedRedis(b)]);
  return { a, b, fake };
}

test("a pair 429'd through replica A is answered locally by replica B, and its key holds nothing in clear", async (t) => {
  const { a, b, fake } = await twoReplicas("shared");
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await fake.close();
  });
  for (let i = 0; i < 5; i++) {
    // A second apart: the guess budget refuses a sixth failure within one second.
    a.clock.advance(SECOND);
    assert.equal(codeOf(await guess(a)), "INVALID_CREDENTIALS");
  }
  a.clock.advance(SECOND);
  assert.equal(codeOf(await guess(a)), "UPSTREAM_RATE_LIMITED");
  assert.equal(fake.totalTokenRequests, 6);

  a.clock.advance(10 * SECOND);
  const onB = await guess(b);
  assert.equal(codeOf(onB), "UPSTREAM_RATE_LIMITED");
  // Aspose's 600 s started with the fifth failure, 11 s earlier.
  assert.equal(retryAfterOf(onB), 589);
  assert.equal(fake.totalTokenRequests, 6, "replica B did not call Aspose");
  assert.equal(await localRefusals(b), 1);
  // Found in Redis once, then held locally: the next refusal costs no round trip but is the same.
  assert.equal(retryAfterOf(await guess(b)), 589);

  const keys = (await scanKeys(redis, `${prefix}shared:`)).filter((key) => key.includes(":cooldown:"));
  assert.equal(keys.length, 1, "one cool-down key for the one 429'd pair");
  const [key = ""] = keys;
  const ttlMs = await redis.pttl(key);
  assert.ok(ttlMs > 0 && ttlMs <= 600 * SECOND, `TTL ${ttlMs} ms`);
  await assertNothingInClear(redis, keys, [GUESSER_ID, GUESS]);
  assert.deepEqual(leakedSecrets(a, [GUESS]), []);
  assert.deepEqual(leakedSecrets(b, [GUESS]), []);
  const metrics = (await request(b, "/metrics")).text;
  assert.equal(metrics.includes(GUESSER_ID) || metrics.includes(GUESS), false);
});

test("a forged cool-down in Redis, ending past the 15-minute cap, is not obeyed", async (t) => {
  const { a, b, fake } = await twoReplicas("forged");
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await fake.close();
  });
  fake.addClient(GUESSER_ID, GUESS);
  fake.failNext({ kind: "status", status: 429, retryAfter: "5" });
  assert.equal(codeOf(await guess(a)), "UPSTREAM_RATE_LIMITED");
  const [key = ""] = (await scanKeys(redis, `${prefix}forged:`)).filter((name) =>
    name.includes(":cooldown:"),
  );
  assert.ok(key !== "", "the 429 was shared");
  // As a compromised or corrupted store might hold it: an end in the year 5000, and no TTL.
  await redis.set(key, String(Date.UTC(5000, 0, 1)));

  assert.equal(served(await guess(b)).tokenType, "Bearer");
  assert.equal(fake.totalTokenRequests, 2);
});

test("with Redis unreachable, the replica's own memory still answers a cooled pair locally", async (t) => {
  const harness = await harnessFor(t, {
    env: {
      REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
      TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
      LOCKOUT_THRESHOLD: "100",
    },
    fake: { pairRateLimit: {} },
  });
  for (let i = 0; i < 5; i++) {
    harness.clock.advance(SECOND);
    assert.equal(codeOf(await guess(harness)), "INVALID_CREDENTIALS");
  }
  harness.clock.advance(SECOND);
  assert.equal(codeOf(await guess(harness)), "UPSTREAM_RATE_LIMITED");
  assert.equal(harness.fake.totalTokenRequests, 6);
  for (let i = 0; i < 5; i++) assert.equal(codeOf(await guess(harness)), "UPSTREAM_RATE_LIMITED");
  assert.equal(harness.fake.totalTokenRequests, 6, "no further call to Aspose");
  const metrics = (await request(harness, "/metrics")).text;
  assert.ok((metricIn(metrics, 'shared_store_fallbacks_total{operation="cooldown"}') ?? 0) >= 1);
  assert.equal(metricIn(metrics, "aspose_upstream_rate_limited_local_total"), 5);
});
