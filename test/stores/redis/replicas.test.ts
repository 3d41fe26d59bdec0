/**
 * Three service processes sharing one Redis (a key prefix of their own) and one fake Aspose, as
 * replicas behind Apollo Router would.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import { CLIENT_ID, CLIENT_SECRET } from "../../support/harness.js";
import {
  assertNothingInClear,
  eventually,
  metricValue,
  outcomeOf,
  type Replica,
  readiness,
  requestTokenFrom,
  scanKeys,
  startReplicas,
  throwawayRedisFor,
  uniquePrefix,
} from "../../support/replicas.js";

const redisServer = throwawayRedisFor();
const LOCKOUT_THRESHOLD = 3;
const prefix = uniquePrefix("replicas");
const serverKey = randomBytes(32).toString("base64");
const SECOND_CLIENT = {
  clientId: "5d2f9e3a-7b1c-4e8d-a6f0-9c3b2e1d4f5a",
  clientSecret: "c0ffee1234567890abcdef0987654321",
};
const BRUTE_SEQUENTIAL = {
  clientId: "b7e4a0d2-1f3c-4a5b-8c9d-0e1f2a3b4c5d",
  clientSecret: "right-secret-sequential-0001",
};
const BRUTE_BURST = {
  clientId: "c8f5b1e3-2a4d-4b6c-9d0e-1f2a3b4c5d6e",
  clientSecret: "right-secret-burst-0002",
};

let fake: FakeAspose;
let replicas: Replica[];
let redis: Redis;
const issuedTokens: string[] = [];

before(async () => {
  redis = new Redis(await redisServer.started());
  fake = await FakeAspose.start({
    clients: {
      [CLIENT_ID]: CLIENT_SECRET,
      [SECOND_CLIENT.clientId]: SECOND_CLIENT.clientSecret,
      [BRUTE_SEQUENTIAL.clientId]: BRUTE_SEQUENTIAL.clientSecret,
      [BRUTE_BURST.clientId]: BRUTE_BURST.clientSecret,
    },
  });
  replicas = await startReplicas(3, {
    ASPOSE_BASE_URL: fake.url,
    ASPOSE_RETRY_BASE_DELAY_MS: "1",
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: prefix,
    TOKEN_CACHE_KEY: serverKey,
    LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
    // The tests follow each other in real time: one's guesses would fill the guess budget for the next
    // one's new credentials for a second. This file is about sharing; guess-budget.test.ts about that.
    UPSTREAM_GUESS_BUDGET_PER_SECOND: "1000",
    // Three cold processes taking a 300-request burst on a box shared with other suites can stall an
    // event loop past 250 ms; that is not the outage this file is about (see outage.test.ts).
    REDIS_TIMEOUT_MS: "1000",
  });
  for (const replica of replicas) {
    await eventually(
      `${replica.name} to report redis up`,
      async () => (await readiness(replica)).body.redis === "up",
    );
  }
});

after(async () => {
  await Promise.all((replicas ?? []).map((replica) => replica.stop()));
  await fake?.close();
  // The throwaway server goes with its keys.
  redis.disconnect();
});

function replica(index: number): Replica {
  const found = replicas[index % replicas.length];
  assert.ok(found !== undefined);
  return found;
}

test("300 concurrent requests spread over three replicas make exactly one upstream call", async () => {
  const release = fake.hold();
  const answers = Array.from({ length: 300 }, (_, i) =>
    requestTokenFrom(replica(i), { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
  );
  // All are pending on the one held upstream call: one replica holds the Redis lock and fetches, the
  // other two are waiting on it.
  await fake.waitForRequests(1);
  await eventually("the two other replicas to wait on the lock", async () => {
    const waits = await Promise.all(replicas.map((r) => metricValue(r, "token_fetch_lock_waits_total")));
    return waits.filter((count) => count > 0).length === 2;
  });
  release();
  const settled = await Promise.all(answers);
  assert.deepEqual(
    settled.filter((answer) => outcomeOf(answer) !== "ok").map(outcomeOf),
    [],
    "every request got a token",
  );
  assert.equal(fake.countFor(CLIENT_ID), 1);
  const tokens = new Set(settled.map((answer) => answer.data?.accessToken.accessToken));
  assert.equal(tokens.size, 1);
  issuedTokens.push(...(tokens as Set<string>));
  const misses = await Promise.all(
    replicas.map((r) => metricValue(r, 'token_cache_lookups_total{result="miss"}')),
  );
  assert.equal(
    misses.reduce((sum, n) => sum + n, 0),
    1,
  );
  // And afterwards every replica answers from the cache.
  for (const r of replicas) {
    const again = await requestTokenFrom(r, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    assert.equal(again.data?.accessToken.fromCache, true);
  }
  assert.equal(fake.countFor(CLIENT_ID), 1);
});

test("wrong guesses spread over the replicas add up to one lockout, seen by every replica", async () => {
  const outcomes: string[] = [];
  for (let i = 0; i < 9; i++) {
    const answer = await requestTokenFrom(replica(i), {
      clientId: BRUTE_SEQUENTIAL.clientId,
      clientSecret: `wrong-guess-${i}`,
    });
    outcomes.push(outcomeOf(answer));
  }
  assert.deepEqual(outcomes, [
    ...Array<string>(LOCKOUT_THRESHOLD).fill("INVALID_CREDENTIALS"),
    ...Array<string>(9 - LOCKOUT_THRESHOLD).fill("TOO_MANY_ATTEMPTS"),
  ]);
  assert.equal(fake.countFor(BRUTE_SEQUENTIAL.clientId), LOCKOUT_THRESHOLD);
  // Locked out everywhere, even with the right secret.
  for (const r of replicas)
    assert.equal(outcomeOf(await requestTokenFrom(r, BRUTE_SEQUENTIAL)), "TOO_MANY_ATTEMPTS");
  assert.equal(fake.countFor(BRUTE_SEQUENTIAL.clientId), LOCKOUT_THRESHOLD);
});

test("a concurrent burst of wrong guesses over the replicas reaches the upstream at most the threshold", async () => {
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      requestTokenFrom(replica(i), { clientId: BRUTE_BURST.clientId, clientSecret: `burst-guess-${i}` }),
    ),
  );
  const outcomes = answers.map(outcomeOf);
  assert.ok(
    fake.countFor(BRUTE_BURST.clientId) <= LOCKOUT_THRESHOLD,
    `${fake.countFor(BRUTE_BURST.clientId)} upstream calls`,
  );
  assert.ok(outcomes.filter((o) => o === "INVALID_CREDENTIALS").length <= LOCKOUT_THRESHOLD);
  assert.deepEqual(new Set(outcomes), new Set(["INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"]));
});

test("a SCAN of the prefix finds no token, secret or clientId in clear, in key names or values", async () => {
  const second = await requestTokenFrom(replica(1), SECOND_CLIENT);
  assert.equal(outcomeOf(second), "ok");
  const secondToken = second.data?.accessToken.accessToken ?? "";
  const fromOther = await requestTokenFrom(replica(2), SECOND_CLIENT);
  assert.equal(fromOther.data?.accessToken.fromCache, true);
  issuedTokens.push(secondToken);

  const forbidden = [
    CLIENT_ID,
    CLIENT_SECRET,
    ...Object.values(SECOND_CLIENT),
    ...Object.values(BRUTE_SEQUENTIAL),
    ...Object.values(BRUTE_BURST),
    "wrong-guess-",
    "burst-guess-",
    serverKey,
    Buffer.from(serverKey, "base64").toString("hex"),
    ...issuedTokens.flatMap((token) => [token, ...token.split(".")]),
  ];
  const keys = await scanKeys(redis, prefix);
  assert.ok(
    keys.some((key) => key.startsWith(`${prefix}token:`)),
    "token entries are in Redis",
  );
  assert.ok(
    keys.some((key) => key === `${prefix}{attempts}:subjects`),
    "failure counters are in Redis",
  );
  await assertNothingInClear(redis, keys, forbidden);
  for (const r of replicas) {
    for (const clear of [CLIENT_SECRET, SECOND_CLIENT.clientSecret, serverKey, ...issuedTokens]) {
      assert.equal(
        r.logs.some((line) => line.includes(clear)),
        false,
        `${r.name} logged a secret`,
      );
    }
  }
});
