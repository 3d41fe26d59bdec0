/**
 * `rejectedToken` with the shared store: two replicas in-process (each its own app, local tier and
 * flights) on one throwaway Redis, one fake Aspose and one TestClock. Reporters on both replicas at
 * once cost Aspose one call; a replica whose local tier still holds the rejected token finds the new
 * one instead of evicting it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  reportRejected,
  requestToken,
  served,
  startHarness,
  TestClock,
  tokensInLogs,
} from "../../support/harness.js";
import { reachedRedis, throwawayRedisFor, uniquePrefix } from "../../support/replicas.js";

const redisServer = throwawayRedisFor();
const prefix = uniquePrefix("rejected-token");

/**
 * Waits for `reached` while the upstream is held; if every report is answered first (none waited for
 * Aspose: refused, or the argument unknown), fails at once instead of waiting forever.
 */
async function reachedWhileHeld(reached: Promise<unknown>, reports: Promise<unknown>[]): Promise<void> {
  let done = false;
  const answeredFirst = Promise.allSettled(reports).then(() => {
    if (!done) throw new Error("every report was answered without waiting for the held upstream");
  });
  await Promise.race([reached, answeredFirst]);
  done = true;
}

/** Two replicas of the service sharing Redis, the upstream and the clock. */
async function twoReplicas(
  label: string,
): Promise<{ a: Harness; b: Harness; fake: FakeAspose; clock: TestClock }> {
  const clock = new TestClock();
  const fake = await FakeAspose.start({ clients: { [CLIENT_ID]: CLIENT_SECRET }, now: clock.now });
  const env = {
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: `${prefix}${label}:`,
    TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
  };
  const a = await startHarness({ clock, upstream: fake, env });
  const b = await startHarness({ clock, upstream: fake, env });
  // Sharing is the point: a replica that has not reached Redis yet would fetch for itself.
  for (const replica of [a, b]) await reachedRedis(replica);
  return { a, b, fake, clock };
}

test("reporters on two replicas at once: one upstream call, everyone gets the same new token", async () => {
  const { a, b, fake, clock } = await twoReplicas("concurrent");
  try {
    const first = served(await requestToken(a));
    assert.equal(served(await requestToken(b)).accessToken, first.accessToken, "B holds A's token too");
    assert.equal(fake.totalTokenRequests, 1);
    // The fake signs deterministically: a second on, the replacement differs from the rejected token.
    clock.advance(1000);

    const release = fake.hold();
    const [lookupsA, lookupsB] = [a.store.count, b.store.count];
    const reports = [
      ...Array.from({ length: 10 }, () => reportRejected(a, first.accessToken)),
      ...Array.from({ length: 10 }, () => reportRejected(b, first.accessToken)),
    ];
    // All 20 have found the rejected token in their replica before Aspose answers the one call.
    await reachedWhileHeld(
      Promise.all([a.store.entered(lookupsA + 10), b.store.entered(lookupsB + 10), fake.waitForRequests(2)]),
      reports,
    );
    release();
    const answers = (await Promise.all(reports)).map(served);

    assert.equal(fake.totalTokenRequests, 2, "one upstream call for 20 reporters on two replicas");
    const replacement = answers[0]?.accessToken;
    assert.ok(replacement !== undefined && replacement !== first.accessToken, "a new token");
    for (const answer of answers) assert.equal(answer.accessToken, replacement);

    // A late reporter on either replica finds the new token: no eviction of it, no call.
    for (const replica of [a, b]) {
      const late = served(await reportRejected(replica, first.accessToken));
      assert.equal(late.accessToken, replacement);
    }
    assert.equal(fake.totalTokenRequests, 2);
    assert.deepEqual(tokensInLogs(a, [first.accessToken, replacement]), []);
    assert.deepEqual(tokensInLogs(b, [first.accessToken, replacement]), []);
  } finally {
    await a.close();
    await b.close();
    await fake.close();
  }
});

test("a report reaching the other replica after the replacement: its local tier's rejected token is replaced from Redis, not refetched", async () => {
  const { a, b, fake, clock } = await twoReplicas("sequential");
  try {
    const first = served(await requestToken(a));
    // B's local tier now holds the token as well.
    served(await requestToken(b));
    clock.advance(1000);
    const replaced = served(await reportRejected(a, first.accessToken));
    assert.notEqual(replaced.accessToken, first.accessToken);
    assert.equal(fake.totalTokenRequests, 2);

    const fromB = served(await reportRejected(b, first.accessToken));
    assert.equal(fromB.accessToken, replaced.accessToken, "B found A's replacement");
    assert.equal(fake.totalTokenRequests, 2, "no second call");
    // And B's answers from then on are the replacement.
    assert.equal(served(await requestToken(b)).accessToken, replaced.accessToken);
    assert.equal(served(await requestToken(a)).accessToken, replaced.accessToken);
  } finally {
    await a.close();
    await b.close();
    await fake.close();
  }
});
