/**
 * Two service processes on a throwaway Redis that is killed and started again mid-run: tokens keep
 * being issued, /readyz and the metrics say so, and sharing resumes by itself.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import {
  eventually,
  metricValue,
  outcomeOf,
  type Replica,
  readiness,
  requestTokenFrom,
  startReplicas,
  ThrowawayRedis,
} from "../../support/replicas.js";

const CLIENTS = {
  before: { clientId: "a1b2c3d4-0000-4000-8000-000000000001", clientSecret: "secret-before-outage-001" },
  during: { clientId: "a1b2c3d4-0000-4000-8000-000000000002", clientSecret: "secret-during-outage-002" },
  after: { clientId: "a1b2c3d4-0000-4000-8000-000000000003", clientSecret: "secret-after-outage-0003" },
};
const UNAVAILABLE = "Redis unavailable";
const BACK = "Redis is back";

let redisServer: ThrowawayRedis;
let fake: FakeAspose;
let a: Replica;
let b: Replica;

before(async () => {
  redisServer = await ThrowawayRedis.start();
  fake = await FakeAspose.start({
    clients: Object.fromEntries(Object.values(CLIENTS).map((c) => [c.clientId, c.clientSecret])),
  });
  const started = await startReplicas(2, {
    ASPOSE_BASE_URL: fake.url,
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: "outage-test:",
    TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
  });
  [a, b] = started as [Replica, Replica];
  await redisUpOn(a, b);
});

after(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await fake?.close();
  await redisServer?.kill();
});

async function redisUpOn(...replicas: Replica[]): Promise<void> {
  for (const replica of replicas) {
    await eventually(
      `${replica.name} to report redis up`,
      async () => (await readiness(replica)).body.redis === "up",
    );
  }
}

function messages(replica: Replica, start: string): number {
  return replica.jsonLogs().filter((line) => typeof line.msg === "string" && line.msg.startsWith(start))
    .length;
}

test("Redis stopped mid-run: tokens are still issued, /readyz shows redis down; back: sharing resumes", async () => {
  // Shared while Redis is up.
  assert.equal((await requestTokenFrom(a, CLIENTS.before)).data?.accessToken.fromCache, false);
  assert.equal((await requestTokenFrom(b, CLIENTS.before)).data?.accessToken.fromCache, true);
  assert.equal(fake.countFor(CLIENTS.before.clientId), 1);

  await redisServer.kill();
  for (const replica of [a, b]) {
    const ready = await eventually(`${replica.name} to report redis down`, async () => {
      const answer = await readiness(replica);
      return answer.body.redis === "down" ? answer : undefined;
    });
    // Still ready: the replica serves from local state.
    assert.equal(ready.status, 200);
    assert.equal(await metricValue(replica, "shared_store_up"), 0);
  }

  // Tokens are still issued: new ones from the upstream, known ones from each replica's local tier.
  const during = await requestTokenFrom(a, CLIENTS.during);
  assert.equal(outcomeOf(during), "ok");
  assert.equal(during.data?.accessToken.fromCache, false);
  assert.equal((await requestTokenFrom(a, CLIENTS.during)).data?.accessToken.fromCache, true);
  assert.equal(outcomeOf(await requestTokenFrom(b, CLIENTS.during)), "ok");
  assert.equal((await requestTokenFrom(b, CLIENTS.before)).data?.accessToken.fromCache, true);
  // Wrong secrets are still refused, and still counted (locally).
  const wrong = await requestTokenFrom(b, { ...CLIENTS.during, clientSecret: "wrong" });
  assert.equal(outcomeOf(wrong), "INVALID_CREDENTIALS");

  await redisServer.resume();
  await redisUpOn(a, b);
  assert.equal(await metricValue(a, "shared_store_up"), 1);

  // Sharing resumed: a token fetched on A after recovery is a cache hit on B.
  const fetched = await requestTokenFrom(a, CLIENTS.after);
  assert.equal(fetched.data?.accessToken.fromCache, false);
  const shared = await requestTokenFrom(b, CLIENTS.after);
  assert.equal(shared.data?.accessToken.fromCache, true);
  assert.equal(shared.data?.accessToken.accessToken, fetched.data?.accessToken.accessToken);
  assert.equal(fake.countFor(CLIENTS.after.clientId), 1);

  // One warning when the outage began and one notice when it ended, per replica: not one per request.
  await Promise.all([a.stop(), b.stop()]);
  for (const replica of [a, b]) {
    assert.equal(messages(replica, UNAVAILABLE), 1, `${replica.name}: ${UNAVAILABLE}`);
    assert.equal(messages(replica, BACK), 1, `${replica.name}: ${BACK}`);
  }
});
