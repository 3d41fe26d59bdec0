/**
 * Refresh-ahead and stale-if-error with the shared store: two replicas in-process (each its own app,
 * local tier and flights) on one real Redis, one fake Aspose and one TestClock.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  request,
  requestToken,
  served,
  startHarness,
  TestClock,
} from "../../support/harness.js";
import { eventually, reachedRedis, throwawayRedisFor, uniquePrefix } from "../../support/replicas.js";

const redisServer = throwawayRedisFor();
const prefix = uniquePrefix("refresh-ahead");
let redis: Redis;

before(async () => {
  redis = new Redis(await redisServer.started());
});
after(async () => {
  // The throwaway server goes with its keys.
  redis.disconnect();
});

async function refreshedAhead(harness: Harness): Promise<number> {
  const text = (await request(harness, "/metrics")).text;
  return Number(/token_refresh_ahead_total\{outcome="refreshed"\} (\d+)/.exec(text)?.[1] ?? 0);
}

/** Two replicas of the service sharing Redis, the upstream and the clock. */
async function twoReplicas(
  label: string,
): Promise<{ a: Harness; b: Harness; fake: FakeAspose; clock: TestClock }> {
  const clock = new TestClock();
  const fake = await FakeAspose.start({
    clients: { [CLIENT_ID]: CLIENT_SECRET },
    now: clock.now,
    lifetimeSeconds: 30,
  });
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: `${prefix}${label}:`,
    TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
    TOKEN_REFRESH_MARGIN_SECONDS: "5",
    TOKEN_REFRESH_MARGIN_RATIO: "0.1",
    TOKEN_REFRESH_AHEAD_SECONDS: "1",
    TOKEN_REFRESH_AHEAD_RATIO: "0.5",
  };
  const a = await startHarness({ clock, upstream: fake, env });
  const b = await startHarness({ clock, upstream: fake, env });
  // Sharing is the point: a replica that has not reached Redis yet would fetch for itself.
  for (const replica of [a, b]) await reachedRedis(replica);
  return { a, b, fake, clock };
}

test("two replicas in the refresh-ahead window: both answer at once, Aspose is called once, both then serve the new token", async () => {
  const { a, b, fake, clock } = await twoReplicas("ahead");
  try {
    const first = served(await requestToken(a));
    assert.equal(served(await requestToken(b)).accessToken, first.accessToken, "B found A's token in Redis");
    assert.equal(fake.totalTokenRequests, 1);

    clock.advance(16_500);
    const release = fake.hold();
    const [fromA, fromB] = await Promise.all([requestToken(a), requestToken(b)]);
    assert.equal(served(fromA).accessToken, first.accessToken);
    assert.equal(served(fromB).accessToken, first.accessToken);
    await fake.waitForRequests(2);
    release();
    await eventually("both background refreshes ended", async () => {
      return (await refreshedAhead(a)) === 1 && (await refreshedAhead(b)) === 1;
    });
    assert.equal(fake.totalTokenRequests, 2, "one upstream call across both replicas");
    const nextA = served(await requestToken(a));
    const nextB = served(await requestToken(b));
    assert.notEqual(nextA.accessToken, first.accessToken);
    assert.equal(nextB.accessToken, nextA.accessToken);
    assert.equal(fake.totalTokenRequests, 2);
  } finally {
    await a.close();
    await b.close();
    await fake.close();
  }
});

test("Aspose down inside the hard margin: both replicas serve the still-valid token marked stale", async () => {
  const { a, b, fake, clock } = await twoReplicas("stale");
  try {
    const first = served(await requestToken(a));
    served(await requestToken(b));
    fake.setFault({ kind: "status", status: 503 });
    clock.advance(26_000);
    for (const replica of [a, b]) {
      const answer = served(await requestToken(replica));
      assert.equal(answer.accessToken, first.accessToken);
      assert.equal(answer.stale, true);
    }
  } finally {
    await a.close();
    await b.close();
    await fake.close();
  }
});
