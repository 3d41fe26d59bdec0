/**
 * One upstream call for many concurrent callers: SingleFlight on its own, then through the real service
 * over real HTTP with the fake Aspose holding the one request until every caller has joined it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SingleFlight } from "../../src/tokens/single-flight.js";
import {
  type AccessTokenFields,
  CLIENT_SECRET,
  type ExecuteResult,
  type Harness,
  leakedSecrets,
  requestToken,
  served,
  startHarness,
  TestClock,
} from "../support/harness.js";
import type { ObservedTokenStore } from "../support/observed-store.js";

/**
 * The harness gives each upstream attempt 2 s of real time; a held request must outlive however long
 * the pile-up takes on a loaded machine, or got times it out and retries (a second upstream call).
 */
const PATIENT_UPSTREAM = { ASPOSE_TIMEOUT_MS: "120000", ASPOSE_TOTAL_TIMEOUT_MS: "240000" };

type Answer = ExecuteResult<{ accessToken: AccessTokenFields }>;

/** Fires `n` concurrent accessToken requests while the fake holds the upstream, releasing it once all joined. */
async function concurrentWhileHeld(
  harness: Harness,
  cache: ObservedTokenStore,
  n: number,
): Promise<Answer[]> {
  const release = harness.fake.hold();
  const all = Promise.all(Array.from({ length: n }, () => requestToken(harness)));
  try {
    await harness.fake.waitForRequests(1);
    await cache.entered(n);
    assert.equal(harness.fake.totalTokenRequests, 1, "only the leader may reach the upstream");
  } finally {
    release();
  }
  return all;
}

async function metric(harness: Harness, line: string): Promise<number | undefined> {
  const { body } = await harness.metrics.render();
  const found = body.split("\n").find((text) => text.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

function assertNoLeaks(harness: Harness, tokens: readonly string[]): void {
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  for (const token of tokens) {
    assert.equal(
      harness.logs.some((line) => line.includes(token)),
      false,
      "an access token was written to the logs",
    );
  }
}

describe("SingleFlight", () => {
  test("concurrent runs for one key share the leader's work; other keys run their own", async () => {
    const flights = new SingleFlight<number>();
    let calls = 0;
    let finish = (_value: number): void => {};
    const work = () => {
      calls++;
      return new Promise<number>((resolve) => {
        finish = resolve;
      });
    };
    const leader = flights.run("k", work);
    const follower = flights.run("k", work);
    assert.equal(leader.leader, true);
    assert.equal(follower.leader, false);
    assert.equal(follower.promise, leader.promise);
    assert.equal(flights.size, 1);
    const other = flights.run("other", async () => 7);
    assert.equal(other.leader, true);
    finish(42);
    assert.deepEqual(await Promise.all([leader.promise, follower.promise, other.promise]), [42, 42, 7]);
    assert.equal(calls, 1);
    assert.equal(flights.size, 0);
  });

  test("a failure reaches every waiter and is not remembered", async () => {
    const flights = new SingleFlight<string>();
    let fail = (_error: Error): void => {};
    const first = flights.run(
      "k",
      () =>
        new Promise<string>((_resolve, reject) => {
          fail = reject;
        }),
    );
    const second = flights.run("k", async () => "never");
    fail(new Error("upstream down"));
    await assert.rejects(first.promise, /upstream down/);
    await assert.rejects(second.promise, /upstream down/);
    assert.equal(flights.size, 0);
    const retry = flights.run("k", async () => "fresh");
    assert.equal(retry.leader, true);
    assert.equal(await retry.promise, "fresh");
  });

  test("work that throws synchronously is not remembered either", async () => {
    const flights = new SingleFlight<string>();
    const broken = flights.run("k", () => {
      throw new Error("thrown before any await");
    });
    await assert.rejects(broken.promise, /thrown before any await/);
    assert.equal(flights.size, 0);
    const retry = flights.run("k", async () => "fresh");
    assert.equal(retry.leader, true);
    assert.equal(await retry.promise, "fresh");
  });
});

describe("single flight through the service", () => {
  test("1000 concurrent requests for the same credentials make exactly one upstream call", {
    timeout: 180_000,
  }, async (t) => {
    const clock = new TestClock();
    // 1000 callers, here all from one address: no per-address connection limit.
    const harness = await startHarness({
      clock,
      env: { ...PATIENT_UPSTREAM, MAX_CONNECTIONS_PER_ADDRESS: "1000000" },
    });
    t.after(() => harness.close());

    const answers = await concurrentWhileHeld(harness, harness.store, 1000);

    assert.equal(harness.fake.totalTokenRequests, 1);
    const tokens = answers.map(served);
    assert.equal(tokens.length, 1000);
    const first = tokens[0];
    assert.ok(first);
    for (const token of tokens) {
      assert.equal(token.accessToken, first.accessToken);
      // Every one of them shared the fetch: none was served from a cache filled by the others.
      assert.equal(token.fromCache, false);
      assert.equal(token.expiresIn, 3600);
    }
    assert.equal(await metric(harness, 'token_cache_lookups_total{result="miss"}'), 1);
    assert.equal(await metric(harness, 'token_cache_lookups_total{result="joined"}'), 999);

    const after = served(await requestToken(harness));
    assert.equal(after.fromCache, true);
    assert.equal(after.accessToken, first.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 1);
    assertNoLeaks(harness, [first.accessToken]);
  });

  test("a failure fans out to every waiter and is not cached: the next call retries", {
    timeout: 120_000,
  }, async (t) => {
    const clock = new TestClock();
    // No retries, so the one shared call is exactly one upstream request.
    const harness = await startHarness({
      clock,
      env: { ...PATIENT_UPSTREAM, ASPOSE_RETRY_LIMIT: "0" },
    });
    t.after(() => harness.close());
    harness.fake.setFault({ kind: "status", status: 503 });

    const answers = await concurrentWhileHeld(harness, harness.store, 100);

    assert.equal(harness.fake.totalTokenRequests, 1);
    for (const answer of answers) {
      assert.equal(answer.data?.accessToken ?? null, null);
      assert.equal(answer.errors?.length, 1);
      assert.equal(answer.errors?.[0]?.extensions?.code, "UPSTREAM_UNAVAILABLE");
    }
    assert.equal(harness.store.size(), 0);

    harness.fake.setFault(undefined);
    const next = served(await requestToken(harness));
    assert.equal(next.fromCache, false);
    assert.equal(harness.fake.totalTokenRequests, 2);
    const cached = served(await requestToken(harness));
    assert.equal(cached.fromCache, true);
    assert.equal(harness.fake.totalTokenRequests, 2);
    assertNoLeaks(harness, [next.accessToken]);
  });

  test("TOKEN_CACHE=off: every sequential request reaches the upstream", async (t) => {
    const harness = await startHarness({ env: { TOKEN_CACHE: "off" } });
    t.after(() => harness.close());

    const tokens: string[] = [];
    for (let i = 1; i <= 3; i++) {
      const token = served(await requestToken(harness));
      assert.equal(token.fromCache, false);
      assert.equal(harness.fake.totalTokenRequests, i);
      tokens.push(token.accessToken);
    }
    assert.equal(harness.app.stores.tokenStore.size(), 0);
    assertNoLeaks(harness, tokens);
  });

  test("TOKEN_CACHE=off: concurrent requests still share one upstream call", {
    timeout: 120_000,
  }, async (t) => {
    const clock = new TestClock();
    const harness = await startHarness({
      clock,
      env: { ...PATIENT_UPSTREAM, TOKEN_CACHE: "off" },
    });
    t.after(() => harness.close());

    const answers = await concurrentWhileHeld(harness, harness.store, 50);

    assert.equal(harness.fake.totalTokenRequests, 1);
    const tokens = answers.map(served);
    const first = tokens[0];
    assert.ok(first);
    for (const token of tokens) {
      assert.equal(token.accessToken, first.accessToken);
      assert.equal(token.fromCache, false);
    }
    assert.equal(harness.store.size(), 0);

    const next = served(await requestToken(harness));
    assert.equal(next.fromCache, false);
    assert.equal(harness.fake.totalTokenRequests, 2);
    assertNoLeaks(harness, [first.accessToken]);
  });
});
