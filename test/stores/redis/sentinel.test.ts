/**
 * The service behind Sentinel, on a real primary + replica + Sentinel started by this file: two
 * replicas in-process make one upstream call between them and their guesses add up; then the primary
 * is killed, Sentinel promotes the replica, the service keeps answering through the switch, and a
 * replica started afterwards serves the cached token (and the lockout) from the new primary.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import {
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  type ExecuteResult,
  type Harness,
  request,
  requestToken,
  served,
  startHarness,
  TestClock,
} from "../../support/harness.js";
import { assertNothingInClear, eventually, scanKeys, uniquePrefix } from "../../support/replicas.js";
import { LocalSentinel, metricIn } from "../../support/topologies.js";

const LOCKOUT_THRESHOLD = 3;
const GUESSED = { clientId: "e1f2a3b4-0000-4000-8000-0000000005e1", clientSecret: "the-right-one-05e1" };
const DURING = { clientId: "e1f2a3b4-0000-4000-8000-00000000d0e5", clientSecret: "secret-during-switch" };
const prefix = uniquePrefix("sentinel");
const serverKey = randomBytes(32).toString("base64");
const clock = new TestClock();
const issued: string[] = [];

let topology: LocalSentinel;
let fake: FakeAspose;
let a: Harness;
let b: Harness;
const harnesses: Harness[] = [];

async function replica(): Promise<Harness> {
  const harness = await startHarness({
    clock,
    upstream: fake,
    env: {
      REDIS_SENTINELS: topology.sentinelList,
      REDIS_SENTINEL_MASTER: LocalSentinel.MASTER_NAME,
      REDIS_KEY_PREFIX: prefix,
      TOKEN_CACHE_KEY: serverKey,
      LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
      REDIS_TIMEOUT_MS: "1000",
    },
  });
  harnesses.push(harness);
  await redisUp(harness);
  return harness;
}

async function readyz(harness: Harness): Promise<Record<string, unknown>> {
  return JSON.parse((await request(harness, "/readyz")).text) as Record<string, unknown>;
}

async function redisUp(harness: Harness): Promise<void> {
  await eventually("the replica to reach the primary", async () => (await readyz(harness)).redis === "up");
}

function code(result: ExecuteResult<unknown>): string {
  return result.errors?.[0]?.extensions?.code ?? "ok";
}

before(async () => {
  topology = await LocalSentinel.start();
  fake = await FakeAspose.start({
    clients: {
      [CLIENT_ID]: CLIENT_SECRET,
      [GUESSED.clientId]: GUESSED.clientSecret,
      [DURING.clientId]: DURING.clientSecret,
    },
    now: clock.now,
  });
  [a, b] = [await replica(), await replica()];
});

after(async () => {
  await Promise.all(harnesses.map((harness) => harness.close()));
  await fake?.close();
  await topology?.stop();
});

test("300 concurrent cold requests over two replicas behind Sentinel make one upstream call", async () => {
  const release = fake.hold();
  const answers = Array.from({ length: 300 }, (_, i) => requestToken(i % 2 === 0 ? a : b));
  await fake.waitForRequests(1);
  release();
  const tokens = new Set((await Promise.all(answers)).map((answer) => served(answer).accessToken));
  assert.equal(fake.countFor(CLIENT_ID), 1);
  assert.equal(tokens.size, 1);
  issued.push(...tokens);
});

test("wrong guesses split over two replicas behind Sentinel add up to one lockout", async () => {
  const outcomes: string[] = [];
  for (let i = 0; i < 6; i++) {
    const guess = { clientId: GUESSED.clientId, clientSecret: `wrong-guess-${i}` };
    outcomes.push(code(await requestToken(i % 2 === 0 ? a : b, guess)));
  }
  assert.deepEqual(outcomes, [
    ...Array<string>(LOCKOUT_THRESHOLD).fill("INVALID_CREDENTIALS"),
    ...Array<string>(6 - LOCKOUT_THRESHOLD).fill("TOO_MANY_ATTEMPTS"),
  ]);
  assert.equal(fake.countFor(GUESSED.clientId), LOCKOUT_THRESHOLD);
});

test("/readyz and /metrics name the sentinel topology; nothing in clear on the primary or the replica", async () => {
  const body = await readyz(a);
  assert.equal(body.redis, "up");
  assert.equal(body.redisTopology, "sentinel");
  const text = (await request(a, "/metrics")).text;
  assert.equal(metricIn(text, "shared_store_up"), 1);
  assert.equal(metricIn(text, 'shared_store_topology{topology="sentinel"}'), 1);

  const forbidden = [
    CLIENT_ID,
    CLIENT_SECRET,
    ...Object.values(GUESSED),
    "wrong-guess-",
    serverKey,
    ...issued.flatMap((token) => [token, ...token.split(".")]),
  ];
  const primary = topology.primaryClient();
  try {
    // Replication finished (WAIT), so the replica holds what the primary holds.
    assert.equal(await primary.wait(1, 2_000), 1);
  } finally {
    primary.disconnect();
  }
  for (const server of [topology.primary, topology.replica]) {
    const node = new Redis(server.port, "127.0.0.1");
    try {
      const keys = await scanKeys(node, prefix);
      assert.ok(keys.some((key) => key.startsWith(`${prefix}token:`)));
      await assertNothingInClear(node, keys, forbidden);
    } finally {
      node.disconnect();
    }
  }
});

test("the primary is killed: the service answers through the switch, and a replica started afterwards serves the cached token from the new primary", async () => {
  const calls = fake.countFor(CLIENT_ID);
  const primary = topology.primaryClient();
  try {
    assert.equal(await primary.wait(1, 2_000), 1, "the replica has every write");
  } finally {
    primary.disconnect();
  }
  const switching = topology.killPrimary();
  // While Sentinel notices and promotes, both replicas keep answering: cached tokens from their local
  // tier, a new credential fetched on its own (local fallback, as in any outage).
  const during: ExecuteResult<{ accessToken: AccessTokenFields }>[] = [];
  let done = false;
  const failoverMs = await Promise.all([
    switching.finally(() => {
      done = true;
    }),
    (async () => {
      while (!done) {
        during.push(await requestToken(a), await requestToken(b), await requestToken(b, DURING));
      }
    })(),
  ]).then(([ms]) => ms);
  assert.ok(during.length >= 3);
  for (const answer of during) served(answer);
  await Promise.all([redisUp(a), redisUp(b)]);
  const late = await replica();
  const answer = served(await requestToken(late));
  assert.equal(answer.fromCache, true);
  assert.equal(answer.accessToken, issued[0]);
  assert.equal(fake.countFor(CLIENT_ID), calls, "no refetch after the failover");
  // The lockout was replicated too: still locked out on a replica that never saw the guesses.
  assert.equal(code(await requestToken(late, GUESSED)), "TOO_MANY_ATTEMPTS");
  process.stdout.write(`# sentinel failover (kill to promoted replica): ${Math.round(failoverMs)} ms\n`);
});
