/**
 * A Sentinel failover with the first sentinel in REDIS_SENTINELS unresponsive (frozen, as a sentinel
 * on the dead primary's own host would be): the service must find the promoted replica through the
 * other sentinels and share again, not strand itself on "Redis unavailable" for good.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import { type Harness, requestToken, served, startHarness, TestClock } from "../../support/harness.js";
import { eventually, readiness, sharingEnv } from "../../support/replicas.js";
import { LocalSentinel } from "../../support/topologies.js";

const AFTER = { clientId: "e1f2a3b4-0000-4000-8000-0000000a57e1", clientSecret: "secret-after-switch-1" };
const clock = new TestClock();
let topology: LocalSentinel;
let fake: FakeAspose;
const harnesses: Harness[] = [];

before(async () => {
  topology = await LocalSentinel.start({ sentinels: 3 });
  fake = await FakeAspose.start({ clients: { [AFTER.clientId]: AFTER.clientSecret }, now: clock.now });
  const env = {
    REDIS_SENTINELS: topology.sentinelList,
    REDIS_SENTINEL_MASTER: LocalSentinel.MASTER_NAME,
    ...sharingEnv("stranded"),
    REDIS_TIMEOUT_MS: "500",
  };
  for (let i = 0; i < 2; i++) harnesses.push(await startHarness({ clock, upstream: fake, env }));
  for (const harness of harnesses)
    await eventually(
      "the replica to reach the primary",
      async () => (await readiness(harness)).body.redis === "up",
    );
});

after(async () => {
  topology?.sentinel.thaw();
  await Promise.all(harnesses.map((harness) => harness.close()));
  await fake?.close();
  await topology?.stop();
});

test("primary killed with the first sentinel frozen: both replicas find the new primary and share again", async () => {
  const [a, b] = harnesses;
  assert.ok(a !== undefined && b !== undefined);
  topology.sentinel.freeze();
  const failoverMs = await topology.killPrimary();
  // Generous: the replicas must get there by themselves, however long the machine takes.
  for (const harness of harnesses)
    await eventually(
      "the replica to share again",
      async () => (await readiness(harness)).body.redis === "up",
      30_000,
    );
  const first = served(await requestToken(a, AFTER));
  const second = served(await requestToken(b, AFTER));
  assert.equal(second.fromCache, true, "the token fetched through A is shared with B");
  assert.equal(second.accessToken, first.accessToken);
  assert.equal(fake.countFor(AFTER.clientId), 1);
  process.stdout.write(`# failover with the first sentinel frozen: ${Math.round(failoverMs)} ms\n`);
});
