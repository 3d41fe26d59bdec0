/**
 * Wait-free refresh and riding out Aspose outages, through the real service over real HTTP with the fake
 * Aspose and one TestClock: refresh-ahead in the background, stale-if-error, eviction on a rejected
 * credential, the circuit breaker and the upstream bulkhead. Time moves only when a test moves it; the
 * fake's `hold()` proves that an answer did not wait for the upstream.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type ExecuteResult,
  type Harness,
  request,
  requestToken,
  served,
  startHarness,
} from "../support/harness.js";

const SECOND = 1000;

/** The worked example: 30 s tokens, hard margin max(5 s, 10 %), refresh-ahead max(1 s, 50 %). */
const THIRTY_SECOND_TOKENS = {
  env: {
    TOKEN_REFRESH_MARGIN_SECONDS: "5",
    TOKEN_REFRESH_MARGIN_RATIO: "0.1",
    TOKEN_REFRESH_AHEAD_SECONDS: "1",
    TOKEN_REFRESH_AHEAD_RATIO: "0.5",
  },
  fake: { lifetimeSeconds: 30 },
};

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

async function withHarness(
  options: Parameters<typeof startHarness>[0],
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const harness = await startHarness(options);
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

test("inside the refresh-ahead window the cached token is served at once and one background refresh replaces it", async () => {
  await withHarness(THIRTY_SECOND_TOKENS, async (harness) => {
    const { fake, clock, store } = harness;
    const first = served(await requestToken(harness));
    assert.equal(fake.totalTokenRequests, 1);

    clock.advance(16_500);
    // The upstream is held: an answer that arrives now did not wait for it.
    const release = fake.hold();
    const during = await Promise.all([requestToken(harness), requestToken(harness), requestToken(harness)]);
    for (const answer of during.map(served)) {
      assert.equal(answer.accessToken, first.accessToken);
      assert.equal(answer.fromCache, true);
      assert.equal(answer.stale, false);
    }
    await fake.waitForRequests(2);
    assert.equal(fake.totalTokenRequests, 2, "one background refresh for three callers");
    release();
    await store.stored(2);

    const after = served(await requestToken(harness));
    assert.notEqual(after.accessToken, first.accessToken);
    assert.equal(after.fromCache, true);
    // Counted from the refresh at 16.5 s, capped by the JWT's whole-second exp.
    assert.ok(after.expiresIn >= 29, `expiresIn ${after.expiresIn}`);
    assert.equal(fake.totalTokenRequests, 2);
  });
});

test("an outage from 18 s on: every request until 27 s gets the cached token, none waits before the hard margin, and Aspose sees a dozen attempts at most", async () => {
  await withHarness(
    { ...THIRTY_SECOND_TOKENS, env: { ...THIRTY_SECOND_TOKENS.env, ASPOSE_BREAKER_THRESHOLD: "2" } },
    async (harness) => {
      const { fake, clock } = harness;
      const first = served(await requestToken(harness));
      clock.advance(18_000);
      fake.setFault({ kind: "status", status: 503 });
      // Held until the hard margin: no answer up to 25 s (5 s left) may depend on the upstream.
      const release = fake.hold();
      for (let at = 18_000; at <= 25_000; at += 500) {
        const answer = served(await requestToken(harness));
        assert.equal(answer.accessToken, first.accessToken, `at ${at} ms`);
        assert.equal(answer.stale, false, `at ${at} ms`);
        clock.advance(500);
      }
      assert.equal(fake.totalTokenRequests, 2, "one background refresh while held");
      release();
      for (let at = 25_500; at <= 27_000; at += 500) {
        const answer = served(await requestToken(harness));
        assert.equal(answer.accessToken, first.accessToken, `at ${at} ms`);
        // Inside the hard margin the service tried for a fresh token and Aspose failed: marked stale.
        assert.equal(answer.stale, true, `at ${at} ms`);
        assert.equal(answer.fromCache, true);
        clock.advance(500);
      }
      assert.ok(fake.totalTokenRequests <= 12, `${fake.totalTokenRequests} upstream attempts`);
      const readiness = await request(harness, "/readyz");
      assert.equal(readiness.status, 200, "an open circuit does not make the replica unready");
      assert.equal((JSON.parse(readiness.text) as { upstream: string }).upstream, "open");
      const metrics = (await request(harness, "/metrics")).text;
      assert.match(metrics, /token_cache_lookups_total\{result="stale"\} 4/);
      assert.match(metrics, /aspose_circuit_state 2/);
    },
  );
});

test("a stale token is never served past its expiry or short of minValidity: the outage's error is", async () => {
  await withHarness(THIRTY_SECOND_TOKENS, async (harness) => {
    const { fake, clock } = harness;
    served(await requestToken(harness));
    fake.setFault({ kind: "status", status: 503 });
    clock.advance(26_000);
    assert.equal(codeOf(await requestToken(harness, { minValidity: 10 })), "UPSTREAM_UNAVAILABLE");
    assert.equal(served(await requestToken(harness, { minValidity: 3 })).stale, true);
    clock.advance(4_000);
    assert.equal(codeOf(await requestToken(harness)), "UPSTREAM_UNAVAILABLE");
  });
});

test("INVALID_CREDENTIALS is never ridden out: the cached token is evicted", async () => {
  await withHarness(THIRTY_SECOND_TOKENS, async (harness) => {
    const { fake, clock, store } = harness;
    served(await requestToken(harness));
    assert.equal(store.size(), 1);
    // The owner rotated the secret at Aspose: the old one is now refused.
    fake.addClient(CLIENT_ID, "rotated-secret-0000000000000000");
    clock.advance(26_000);
    assert.equal(codeOf(await requestToken(harness)), "INVALID_CREDENTIALS");
    assert.equal(store.size(), 0);
    clock.advance(-10_000);
    // Even where the token would otherwise still be fresh, it is gone.
    assert.equal(codeOf(await requestToken(harness)), "INVALID_CREDENTIALS");
    assert.equal(fake.totalTokenRequests, 3);
  });
});

test("a failed background refresh is not retried on every request: it backs off a tenth of the lifetime", async () => {
  await withHarness(
    { ...THIRTY_SECOND_TOKENS, env: { ...THIRTY_SECOND_TOKENS.env, ASPOSE_RETRY_LIMIT: "0" } },
    async (harness) => {
      const { fake, clock } = harness;
      served(await requestToken(harness));
      fake.setFault({ kind: "status", status: 503 });
      clock.advance(16_000);
      served(await requestToken(harness));
      await fake.waitForRequests(2);
      // Background failure settles with the answer's flight; the next requests within 3 s do not retry.
      for (let i = 0; i < 5; i++) {
        clock.advance(500);
        served(await requestToken(harness));
      }
      assert.ok(fake.totalTokenRequests <= 3, `${fake.totalTokenRequests} upstream calls in 2.5 s`);
    },
  );
});

test("the circuit opens after consecutive faults, answers at once with retryAfter, then lets one probe through", async () => {
  await withHarness(
    {
      env: { ASPOSE_RETRY_LIMIT: "0", ASPOSE_BREAKER_THRESHOLD: "3", ASPOSE_BREAKER_COOLDOWN_SECONDS: "30" },
    },
    async (harness) => {
      const { fake, clock } = harness;
      fake.setFault({ kind: "status", status: 503 });
      for (let i = 0; i < 3; i++) assert.equal(codeOf(await requestToken(harness)), "UPSTREAM_UNAVAILABLE");
      assert.equal(fake.totalTokenRequests, 3);

      const refused = await requestToken(harness);
      assert.equal(codeOf(refused), "UPSTREAM_UNAVAILABLE");
      assert.equal(refused.errors?.[0]?.extensions?.retryAfter, 30);
      assert.equal(fake.totalTokenRequests, 3, "an open circuit does not call Aspose");

      fake.setFault(undefined);
      clock.advance(30 * SECOND);
      const release = fake.hold();
      const probe = requestToken(harness, { clientId: "probe-client" });
      await fake.waitForRequests(4);
      // While the probe is out, others are still refused at once.
      assert.equal(codeOf(await requestToken(harness)), "UPSTREAM_UNAVAILABLE");
      release();
      assert.equal(codeOf(await probe), "INVALID_CREDENTIALS", "the probe's answer is Aspose's");
      // An answer, even a refusal, proves Aspose is up: the circuit is closed again.
      served(await requestToken(harness));
      assert.equal(fake.totalTokenRequests, 5);
    },
  );
});

test("an open circuit's refusals are no guesses: new credentials get UPSTREAM_UNAVAILABLE while it is open, never TOO_MANY_ATTEMPTS, and tokens once it closes", async () => {
  await withHarness(
    {
      env: {
        ASPOSE_RETRY_LIMIT: "0",
        ASPOSE_BREAKER_THRESHOLD: "3",
        ASPOSE_BREAKER_COOLDOWN_SECONDS: "30",
        UPSTREAM_GUESS_BUDGET_PER_SECOND: "5",
      },
    },
    async (harness) => {
      const { fake, clock } = harness;
      const newcomers = Array.from({ length: 20 }, (_, i) => ({
        clientId: `newcomer-${i}`,
        clientSecret: `newcomer-secret-${i}`,
      }));
      for (const { clientId, clientSecret } of newcomers) fake.addClient(clientId, clientSecret);
      const ask = (credential: { clientId: string; clientSecret: string }) =>
        requestToken(harness, credential);

      fake.setFault({ kind: "status", status: 503 });
      // Three attempts that reached Aspose open the circuit; each holds a slot of the budget for 1 s.
      for (const credential of newcomers.slice(0, 3))
        assert.equal(codeOf(await ask(credential)), "UPSTREAM_UNAVAILABLE");
      const codes: unknown[] = [];
      for (const credential of newcomers.slice(3, 13)) codes.push(codeOf(await ask(credential)));
      assert.deepEqual(
        codes,
        Array(10).fill("UPSTREAM_UNAVAILABLE"),
        "refused by the open circuit, not by a guess budget its refusals filled",
      );
      assert.equal(fake.totalTokenRequests, 3, "an open circuit does not call Aspose");

      fake.setFault(undefined);
      clock.advance(30 * SECOND);
      for (const credential of newcomers.slice(13)) served(await ask(credential));
      assert.equal(fake.totalTokenRequests, 10);
    },
  );
});

test("the upstream bulkhead: past the cap a call waits a bounded time, then gets a coded answer, not a hang", async () => {
  await withHarness(
    { env: { ASPOSE_MAX_CONCURRENT_CALLS: "2", ASPOSE_QUEUE_WAIT_MS: "100", LOCKOUT_THRESHOLD: "100" } },
    async (harness) => {
      const { fake } = harness;
      fake.addClient("second-client", CLIENT_SECRET);
      const release = fake.hold();
      const first = requestToken(harness);
      const second = requestToken(harness, { clientId: "second-client" });
      await fake.waitForRequests(2);
      const third = await requestToken(harness, { clientId: "third-client" });
      assert.equal(codeOf(third), "UPSTREAM_UNAVAILABLE");
      assert.equal(third.errors?.[0]?.extensions?.retryAfter, 1);
      assert.equal(fake.totalTokenRequests, 2, "the shed call never reached Aspose");
      release();
      served(await first);
      served(await second);
      assert.match((await request(harness, "/metrics")).text, /aspose_upstream_shed_total 1/);
    },
  );
});
