/**
 * The service on a real 3-master Redis Cluster started by this file: two replicas in-process sharing
 * one fake Aspose make one upstream call between them, their lockout counts add up, nothing is in
 * clear on any node, and a token whose slot moves to another master (MOVED, and ASK mid-migration) is
 * still read from the cluster by a replica that never saw it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import type { Cluster } from "ioredis";
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
import { assertNothingInClear, eventually, scanKeys, uniquePrefix } from "../../support/replicas.js";
import { LocalCluster, metricIn } from "../../support/topologies.js";

const LOCKOUT_THRESHOLD = 3;
const GUESSED = { clientId: "d1e2f3a4-0000-4000-8000-00000000c1a5", clientSecret: "the-right-one-c1a5" };
const MOVED = { clientId: "d1e2f3a4-0000-4000-8000-0000000000ed", clientSecret: "secret-moved-slot-0ed" };
const prefix = uniquePrefix("cluster");
const serverKey = randomBytes(32).toString("base64");
const clock = new TestClock();
const issued: string[] = [];

let cluster: LocalCluster;
let client: Cluster;
let fake: FakeAspose;
let a: Harness;
let b: Harness;
const extra: Harness[] = [];

function env(): Record<string, string> {
  return {
    REDIS_CLUSTER_NODES: cluster.nodeList,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_CACHE_KEY: serverKey,
    LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
    // Two apps and 300 requests in one test process: a busy event loop is not an outage here.
    REDIS_TIMEOUT_MS: "1000",
  };
}

async function replica(): Promise<Harness> {
  const harness = await startHarness({ clock, upstream: fake, env: env() });
  extra.push(harness);
  await eventually("the replica to reach the cluster", async () => {
    const body = JSON.parse((await request(harness, "/readyz")).text) as Record<string, unknown>;
    return body.redis === "up";
  });
  return harness;
}

before(async () => {
  cluster = await LocalCluster.start(3);
  client = cluster.client();
  fake = await FakeAspose.start({
    clients: {
      [CLIENT_ID]: CLIENT_SECRET,
      [GUESSED.clientId]: GUESSED.clientSecret,
      [MOVED.clientId]: MOVED.clientSecret,
    },
    now: clock.now,
  });
  [a, b] = [await replica(), await replica()];
});

after(async () => {
  await Promise.all(extra.map((harness) => harness.close()));
  await fake?.close();
  client?.disconnect();
  await cluster?.stop();
});

/** What each node says to a plain GET of `key`: "value", "nil", or the error's first word (MOVED, ASK). */
async function redirections(key: string): Promise<string[]> {
  return Promise.all(
    cluster.nodes.map(async (_, index) => {
      const node = cluster.node(index);
      try {
        return (await node.get(key)) === null ? "nil" : "value";
      } catch (error) {
        return error instanceof Error ? (error.message.split(" ")[0] ?? "") : "error";
      } finally {
        node.disconnect();
      }
    }),
  );
}

test("300 concurrent cold requests over two replicas on the cluster make one upstream call", async () => {
  const release = fake.hold();
  const answers = Array.from({ length: 300 }, (_, i) => requestToken(i % 2 === 0 ? a : b));
  await fake.waitForRequests(1);
  release();
  const tokens = new Set((await Promise.all(answers)).map((answer) => served(answer).accessToken));
  assert.equal(fake.countFor(CLIENT_ID), 1);
  assert.equal(tokens.size, 1);
  issued.push(...tokens);
  assert.equal(served(await requestToken(b)).fromCache, true);
});

test("wrong guesses split over two replicas add up to one lockout on the cluster", async () => {
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    const answer = await requestToken(i % 2 === 0 ? a : b, {
      clientId: GUESSED.clientId,
      clientSecret: `wrong-guess-${i}`,
    });
    outcomes.push(answer.errors?.[0]?.extensions?.code ?? "ok");
  }
  assert.deepEqual(outcomes, [
    ...Array<string>(LOCKOUT_THRESHOLD).fill("INVALID_CREDENTIALS"),
    ...Array<string>(6 - LOCKOUT_THRESHOLD).fill("TOO_MANY_ATTEMPTS"),
  ]);
  assert.equal(fake.countFor(GUESSED.clientId), LOCKOUT_THRESHOLD);
  const right = await requestToken(b, GUESSED);
  assert.equal(right.errors?.[0]?.extensions?.code, "TOO_MANY_ATTEMPTS");
});

test("/readyz and /metrics name the cluster topology and its state", async () => {
  const body = JSON.parse((await request(a, "/readyz")).text) as Record<string, unknown>;
  assert.equal(body.redis, "up");
  assert.equal(body.redisTopology, "cluster");
  const text = (await request(a, "/metrics")).text;
  assert.equal(metricIn(text, "shared_store_up"), 1);
  assert.equal(metricIn(text, 'shared_store_topology{topology="cluster"}'), 1);
});

test("a token whose slot moves to another master is still read (ASK mid-move, MOVED after)", async () => {
  const token = served(await requestToken(a, MOVED)).accessToken;
  issued.push(token);
  // Every token entry's slot moves (this one's among them: its key is an HMAC the test cannot name).
  const tokenKeys = (await scanKeys(client, prefix)).filter((name) => name.startsWith(`${prefix}token:`));
  assert.ok(tokenKeys.length > 0);
  const calls = fake.countFor(MOVED.clientId);
  for (const entry of tokenKeys) {
    await cluster.moveSlotOf(entry, async () => {
      // Keys migrated, slot not yet reassigned: the old owner answers ASK, the client follows it.
      assert.ok((await redirections(entry)).includes("ASK"));
      const fresh = await replica();
      const answer = served(await requestToken(fresh, MOVED));
      assert.equal(answer.accessToken, token);
      assert.equal(answer.fromCache, true);
    });
    assert.ok((await redirections(entry)).includes("MOVED"));
  }
  // Slot reassigned: a replica that never saw the token gets MOVED once, then reads it.
  const late = await replica();
  const answer = served(await requestToken(late, MOVED));
  assert.equal(answer.accessToken, token);
  assert.equal(answer.fromCache, true);
  assert.equal(fake.countFor(MOVED.clientId), calls);
});

test("nothing in clear on any node: keys and values hold no clientId, secret, token or key", async () => {
  const keys = await scanKeys(client, prefix);
  assert.ok(keys.some((key) => key.startsWith(`${prefix}token:`)));
  assert.ok(keys.some((key) => key === `${prefix}{attempts}:subjects`));
  await assertNothingInClear(client, keys, [
    CLIENT_ID,
    CLIENT_SECRET,
    ...Object.values(GUESSED),
    ...Object.values(MOVED),
    "wrong-guess-",
    serverKey,
    ...issued.flatMap((token) => [token, ...token.split(".")]),
  ]);
  for (const harness of extra)
    for (const clear of [CLIENT_SECRET, MOVED.clientSecret, serverKey, ...issued])
      assert.equal(
        harness.logs.some((line) => line.includes(clear)),
        false,
      );
});
