/**
 * Issue 11: the brute-force defence must not be a weapon. Each attack from the issue, tried as an
 * attacker would, against the real service over real HTTP and the fake Aspose, in memory and with
 * the shared (Redis) stores. Callers are told apart by their loopback source address (127.0.0.x).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type TestContext, test } from "node:test";
import { type Answer, type Ask, ask as askFrom } from "../support/addressed-requests.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  type HarnessOptions,
  harnessFor,
  leakedSecrets,
  post,
} from "../support/harness.js";
import { reachedRedis, throwawayRedisFor, uniquePrefix } from "../support/replicas.js";

const THRESHOLD = 5;
const ADDRESS_THRESHOLD = 4 * THRESHOLD;
const OWNER = "127.0.0.1";
const ATTACKER = "127.0.0.2";
const redisServer = throwawayRedisFor();
// These attacks are about the per-clientId and per-address rules, which bursts of guesses under a still
// clock exercise; the guess budget all unverified attempts share would refuse those bursts first. It
// has its own tests (guess-budget.test.ts).
const PER_SUBJECT_ONLY = { UPSTREAM_GUESS_BUDGET_PER_SECOND: "1000" };

interface Mode {
  readonly name: string;
  env(): Record<string, string>;
}

const MODES: readonly Mode[] = [
  { name: "memory", env: () => ({}) },
  {
    name: "redis",
    env: () => {
      const prefix = uniquePrefix("abuse");
      return {
        REDIS_URL: redisServer.url,
        REDIS_KEY_PREFIX: prefix,
        TOKEN_CACHE_KEY: randomBytes(32).toString("base64"),
      };
    },
  },
];

function wrong(n: number): string {
  return `wrong-secret-${String(n).padStart(4, "0")}-0123456789abcdef`;
}

async function start(t: TestContext, mode: Mode, options: HarnessOptions = {}): Promise<Harness> {
  const harness = await harnessFor(t, {
    ...options,
    env: { ...PER_SUBJECT_ONLY, ...mode.env(), ...options.env },
  });
  t.after(() => assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []));
  // The attacks are about shared counters: guesses made before the replica reaches Redis are counted
  // locally (the start-up gap docs/redis.md notes) and made this test fail now and then.
  if (mode.name === "redis") await reachedRedis(harness);
  return harness;
}

/** Resolves once `ready()` holds, re-checked whenever `poke` is called; never polls on a timer. */
function when(ready: () => boolean): { poke: () => void; reached: Promise<void> } {
  let resolve = (): void => {};
  const reached = new Promise<void>((r) => {
    resolve = r;
  });
  return { poke: () => (ready() ? resolve() : undefined), reached };
}

/** credential_attempts_refused_total for one reason, from /metrics. */
async function refusals(harness: Harness, reason: string): Promise<number> {
  const text = await (await fetch(`${harness.origin}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`credential_attempts_refused_total{reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

function assertServed(answer: Answer, what: string): string {
  assert.equal(answer.code, undefined, `${what}: ${answer.text}`);
  assert.ok(answer.token !== undefined && answer.token.length > 0, `${what}: ${answer.text}`);
  return answer.token;
}

for (const mode of MODES) {
  test(`${mode.name}: victim lockout — the owner's right secret is served, from the cache and refreshed, while its clientId is attacked every 15 minutes`, async (t) => {
    const harness = await start(t, mode);
    const first = assertServed(await ask(harness), "first fetch");
    const upstreamBefore = harness.fake.totalTokenRequests;
    const tokens = new Set([first]);
    // Five rounds cover an hour: the token (3600 s) must be refreshed during the last lockout.
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < THRESHOLD; i++)
        await ask(harness, { clientSecret: wrong(round * 10 + i), from: ATTACKER });
      const refused = await ask(harness, { clientSecret: wrong(999), from: ATTACKER });
      assert.equal(refused.code, "TOO_MANY_ATTEMPTS", `round ${round}: the attacker is locked out`);
      tokens.add(assertServed(await ask(harness), `round ${round}: owner from its own address`));
      tokens.add(
        assertServed(
          await ask(harness, { from: ATTACKER }),
          `round ${round}: owner from the attacker's address`,
        ),
      );
      harness.clock.advance(15 * 60 * 1000);
    }
    tokens.add(assertServed(await ask(harness), "after the attack"));
    assert.ok(tokens.size >= 2, "the owner's token was refreshed upstream during the attack");
    t.diagnostic(
      `attacker's calls reaching Aspose: ${harness.fake.totalTokenRequests - upstreamBefore - (tokens.size - 1)}`,
    );
  });

  test(`${mode.name}: everyone behind the router — 20 failures from the router's address do not refuse known-good callers`, async (t) => {
    const harness = await start(t, mode);
    harness.fake.addClient("second-owner", "second-owner-secret-0123456789ab");
    const first = assertServed(await ask(harness), "owner");
    assertServed(
      await ask(harness, { clientId: "second-owner", clientSecret: "second-owner-secret-0123456789ab" }),
      "second owner",
    );
    for (let i = 0; i < ADDRESS_THRESHOLD; i++) {
      assert.equal(
        (await ask(harness, { clientId: `router-guess-${i}`, clientSecret: wrong(i) })).code,
        "INVALID_CREDENTIALS",
      );
    }
    const locked = await ask(harness, { clientId: "router-guess-next", clientSecret: wrong(0) });
    assert.equal(locked.code, "TOO_MANY_ATTEMPTS", "the address is locked for unverified credentials");
    assert.equal(await refusals(harness, "address_locked"), 1);
    assert.equal(assertServed(await ask(harness), "owner's cached token"), first);
    assertServed(
      await ask(harness, { clientId: "second-owner", clientSecret: "second-owner-secret-0123456789ab" }),
      "second owner's cached token",
    );
    // And a refresh goes upstream while the address is locked.
    harness.clock.advance(11_000);
    const calls = harness.fake.totalTokenRequests;
    const refreshed = assertServed(await ask(harness, { forceRefresh: true }), "owner's forced refresh");
    assert.notEqual(refreshed, first);
    assert.equal(harness.fake.totalTokenRequests, calls + 1);
  });

  test(`${mode.name}: concurrent spraying — 300 simultaneous guesses from one address reach Aspose at most 4 × threshold times`, async (t) => {
    // The guesses are held at the fake until all 300 are accounted for, which takes seconds on a loaded
    // box: long upstream timeouts, so none times out and frees its place (an outage is no failure).
    // 300 connections from one address: past the default per-address limit (256), which would close
    // some before the lockout is asked; this test is about the lockout's budget.
    const harness = await start(t, mode, {
      env: {
        ASPOSE_TIMEOUT_MS: "60000",
        ASPOSE_TOTAL_TIMEOUT_MS: "60000",
        MAX_CONNECTIONS_PER_ADDRESS: "1000000",
      },
    });
    assertServed(await ask(harness, { from: ATTACKER }), "a known-good owner at the attacker's address");
    harness.fake.resetCounters();
    const release = harness.fake.hold();
    const total = 300;
    let settled = 0;
    const accounted = when(() => settled + harness.fake.totalTokenRequests >= total);
    harness.fake.on("request", accounted.poke);
    const pending = Array.from({ length: total }, (_, i) =>
      ask(harness, {
        clientId: `spray-${i}`,
        clientSecret: "Summer2026!common-password",
        from: ATTACKER,
      }).finally(() => {
        settled += 1;
        accounted.poke();
      }),
    );
    await accounted.reached;
    release();
    const answers = await Promise.all(pending);
    // Distinct guesses: a held guess may time out and be retried by the connector (same reservation).
    const reached = new Set(harness.fake.requests.map((request) => request.clientId)).size;
    t.diagnostic(
      `${total} simultaneous guesses: ${reached} reached Aspose (${harness.fake.totalTokenRequests} HTTP attempts)`,
    );
    assert.ok(reached <= ADDRESS_THRESHOLD, `${reached} guesses reached Aspose`);
    for (const answer of answers)
      assert.ok(["INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"].includes(answer.code ?? ""), answer.text);
    // Refusals are counted by reason: the budget of attempts in flight did the work here.
    assert.ok((await refusals(harness, "address_busy")) > 0);
    // The owner at that address is still served, and a further guess is refused.
    harness.clock.advance(11_000);
    assertServed(
      await ask(harness, { from: ATTACKER, forceRefresh: true }),
      "owner refreshed during the spray's lockout",
    );
    assert.equal(
      (await ask(harness, { clientId: "spray-late", clientSecret: wrong(1), from: ATTACKER })).code,
      "TOO_MANY_ATTEMPTS",
    );
  });

  test(`${mode.name}: a known-good credential from an attacked address is refreshed upstream`, async (t) => {
    const harness = await start(t, mode, {
      env: { LOCKOUT_BASE_SECONDS: "900" },
      fake: { lifetimeSeconds: 600 },
    });
    const first = assertServed(await ask(harness, { from: "127.0.0.3" }), "first fetch");
    // The attacker shares the owner's address and locks both it and the owner's clientId.
    for (let i = 0; i < THRESHOLD; i++) await ask(harness, { clientSecret: wrong(i), from: "127.0.0.3" });
    for (let i = 0; i < ADDRESS_THRESHOLD; i++)
      await ask(harness, { clientId: `other-${i}`, clientSecret: wrong(i), from: "127.0.0.3" });
    assert.equal(
      (await ask(harness, { clientId: "other-x", clientSecret: wrong(0), from: "127.0.0.3" })).code,
      "TOO_MANY_ATTEMPTS",
    );
    assert.equal(
      (await ask(harness, { clientSecret: wrong(99), from: "127.0.0.3" })).code,
      "TOO_MANY_ATTEMPTS",
    );
    // The token runs out while both are locked: the owner is refreshed, not refused.
    harness.clock.advance(600_000);
    const calls = harness.fake.totalTokenRequests;
    const refreshed = assertServed(await ask(harness, { from: "127.0.0.3" }), "refresh while locked");
    assert.notEqual(refreshed, first);
    assert.equal(harness.fake.totalTokenRequests, calls + 1);
  });

  test(`${mode.name}: 40 wrong guesses for one clientId, from four addresses, reach Aspose at most 10 times`, async (t) => {
    const harness = await start(t, mode);
    for (let i = 0; i < 40; i++)
      await ask(harness, { clientSecret: wrong(i), from: `127.0.0.${10 + (i % 4)}` });
    t.diagnostic(`40 guesses reached Aspose ${harness.fake.countFor(CLIENT_ID)} times`);
    assert.ok(harness.fake.countFor(CLIENT_ID) <= 10);
  });
}

test("forceRefresh as a pump: thirty forced refreshes in a row make at most 3 upstream calls, and all get a token", async (t) => {
  const harness = await start(t, MODES[0] as Mode);
  const tokens: string[] = [];
  for (let i = 0; i < 30; i++) {
    tokens.push(assertServed(await ask(harness, { forceRefresh: true }), `forced refresh ${i}`));
    harness.clock.advance(1_000);
  }
  t.diagnostic(`30 forced refreshes made ${harness.fake.totalTokenRequests} upstream calls`);
  assert.ok(harness.fake.totalTokenRequests <= 3, `${harness.fake.totalTokenRequests} upstream calls`);
  // Without the clock moving at all: one call.
  harness.fake.resetCounters();
  harness.clock.advance(60_000);
  for (let i = 0; i < 30; i++) assertServed(await ask(harness, { forceRefresh: true }), `tight loop ${i}`);
  assert.equal(harness.fake.totalTokenRequests, 1);
});

test("forceRefresh as a pump: three aliases with forceRefresh make one upstream call; past the interval a forced refresh does refetch", async (t) => {
  const harness = await start(t, MODES[0] as Mode);
  const query = /* GraphQL */ `
    mutation ($id: String!, $secret: String!) {
      a: accessToken(clientId: $id, clientSecret: $secret, forceRefresh: true, minValidity: 0) { accessToken }
      b: accessToken(clientId: $id, clientSecret: $secret, forceRefresh: true, minValidity: 60) { accessToken }
      c: accessToken(clientId: $id, clientSecret: $secret, forceRefresh: true, minValidity: 120) { accessToken }
    }
  `;
  const reply = await post(
    harness,
    JSON.stringify({ query, variables: { id: CLIENT_ID, secret: CLIENT_SECRET } }),
  );
  const body = JSON.parse(reply.text) as { data?: Record<string, { accessToken: string }>; errors?: unknown };
  assert.equal(body.errors, undefined, reply.text);
  t.diagnostic(`three forced aliases made ${harness.fake.totalTokenRequests} upstream calls`);
  assert.equal(harness.fake.totalTokenRequests, 1);
  const first = body.data?.a?.accessToken;
  assert.equal(body.data?.c?.accessToken, first);
  harness.clock.advance(10_000);
  const later = assertServed(await ask(harness, { forceRefresh: true }), "forced refresh past the interval");
  assert.notEqual(later, first);
  assert.equal(harness.fake.totalTokenRequests, 2);
});

/** One accessToken request, from OWNER unless the options say otherwise. */
function ask(harness: Harness, options: Ask = {}): Promise<Answer> {
  return askFrom(harness, { from: OWNER, ...options });
}
