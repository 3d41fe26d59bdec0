/**
 * Aspose's per-credential rate limit, through the real service over real HTTP, against the fake Aspose
 * in its Aspose-like mode (5 failed requests for a client_id + client_secret pair, then 429 with
 * Retry-After: 600 for that pair) and one TestClock: the 429 is remembered per pair and answered
 * locally until it ends, a cached token for the pair is still served, and the circuit breaker counts
 * only what says Aspose is unwell, so one attacker's pair cannot open it for everyone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  type ExecuteResult,
  type Harness,
  harnessFor,
  leakedSecrets,
  request,
  requestToken,
  served,
} from "../support/harness.js";
import { eventually } from "../support/replicas.js";
import { metricIn } from "../support/topologies.js";

const SECOND = 1000;
const ATTACKER_ID = "attacker-client-id";
const ATTACKER_GUESS = "attacker-guess-0001";

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

function retryAfterOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.retryAfter;
}

/** A brand-new valid credential Aspose knows. */
function newCredential(harness: Harness): { clientId: string; clientSecret: string } {
  const credential = {
    clientId: `client-${randomBytes(6).toString("hex")}`,
    clientSecret: `secret-${randomBytes(12).toString("hex")}`,
  };
  harness.fake.addClient(credential.clientId, credential.clientSecret);
  return credential;
}

/** Token requests that reached Aspose with the attacker's pair. */
function attackerCalls(harness: Harness): number {
  return harness.fake.requests.filter(
    (call) => call.clientId === ATTACKER_ID && call.form?.client_secret === ATTACKER_GUESS,
  ).length;
}

function attack(harness: Harness): Promise<ExecuteResult<unknown>> {
  return requestToken(harness, { clientId: ATTACKER_ID, clientSecret: ATTACKER_GUESS });
}

/**
 * The attacker's five wrong guesses for the pair, a second apart: the guess budget
 * (UPSTREAM_GUESS_BUDGET_PER_SECOND, 5) refuses a sixth failing request within the same second.
 */
async function fiveGuesses(harness: Harness): Promise<void> {
  for (let i = 0; i < 5; i++) {
    harness.clock.advance(SECOND);
    assert.equal(codeOf(await attack(harness)), "INVALID_CREDENTIALS");
  }
  harness.clock.advance(SECOND);
}

async function metric(harness: Harness, sample: string): Promise<number> {
  return metricIn((await request(harness, "/metrics")).text, sample) ?? 0;
}

async function circuit(harness: Harness): Promise<unknown> {
  return JSON.parse((await request(harness, "/readyz")).text).upstream;
}

// The attacker's own clientId is locked out after LOCKOUT_THRESHOLD failures: with the defaults (5,
// then 30 s) the five guesses lock it, and the attack goes on once the lockout ends (a 429 is not a
// failed guess, so it never locks again). A raised threshold is the attack without that pause.
for (const lockout of ["default", "raised"] as const) {
  test(`the issue's attack (${lockout} lockout): an attacker's 429'd pair cannot open the breaker; 20 then 50 new credentials are all served`, async (t) => {
    const env: Record<string, string> = lockout === "raised" ? { LOCKOUT_THRESHOLD: "100" } : {};
    const harness = await harnessFor(t, { env, fake: { pairRateLimit: {} } });
    const { clock } = harness;

    await fiveGuesses(harness);
    if (lockout === "default") {
      assert.equal(codeOf(await attack(harness)), "TOO_MANY_ATTEMPTS");
      clock.advance(31 * SECOND);
    }
    const followUps: unknown[] = [];
    for (let i = 0; i < 5; i++) followUps.push(codeOf(await attack(harness)));
    const callsAfterFollowUps = attackerCalls(harness);

    let firstWave = 0;
    for (let i = 0; i < 20; i++) {
      if (codeOf(await requestToken(harness, newCredential(harness))) === undefined) firstWave += 1;
    }

    // 18 attacker requests over the next 100 s, 50 new credentials among them.
    let secondWave = 0;
    const attackerAnswers = new Set<unknown>();
    const retryAfters: unknown[] = [];
    const states = new Set<unknown>();
    for (let i = 0; i < 18; i++) {
      clock.advance((100 * SECOND) / 18);
      const refused = await attack(harness);
      attackerAnswers.add(codeOf(refused));
      retryAfters.push(retryAfterOf(refused));
      for (let j = 0; j < (i < 14 ? 3 : 2); j++) {
        if (codeOf(await requestToken(harness, newCredential(harness))) === undefined) secondWave += 1;
      }
      states.add(await circuit(harness));
    }
    const figures = {
      followUps,
      callsAfterFollowUps,
      firstWave: `${firstWave} of 20 new credentials served`,
      secondWave: `${secondWave} of 50 new credentials served`,
      attackerAnswers: [...attackerAnswers],
      circuitStates: [...states],
      attackerCalls: attackerCalls(harness),
    };
    t.diagnostic(JSON.stringify(figures));
    assert.deepEqual(figures, {
      followUps: Array(5).fill("UPSTREAM_RATE_LIMITED"),
      // Five guesses and the one request Aspose answered 429; the cooled pair never reached it again.
      callsAfterFollowUps: 6,
      firstWave: "20 of 20 new credentials served",
      secondWave: "50 of 50 new credentials served",
      attackerAnswers: ["UPSTREAM_RATE_LIMITED"],
      circuitStates: ["closed"],
      attackerCalls: 6,
    });
    // The seconds left of Aspose's 600, counting down with the clock.
    assert.ok(retryAfters.every((seconds) => typeof seconds === "number" && seconds > 0 && seconds <= 600));
    assert.equal(await metric(harness, "aspose_upstream_rate_limited_local_total"), 4 + 18);
    assert.deepEqual(leakedSecrets(harness, [ATTACKER_GUESS]), []);
  });
}

test("the issue's second attack: 50 requests for a 429'd pair within 5 s, other traffic flowing: none reaches Aspose", async (t) => {
  const harness = await harnessFor(t, { env: { LOCKOUT_THRESHOLD: "100" }, fake: { pairRateLimit: {} } });
  const { clock } = harness;
  await fiveGuesses(harness);
  const limited = await attack(harness);
  assert.equal(codeOf(limited), "UPSTREAM_RATE_LIMITED");
  // Aspose's 600 s started with the fifth failure, a second earlier.
  assert.equal(retryAfterOf(limited), 599, "Aspose's Retry-After, passed on");
  assert.equal(attackerCalls(harness), 6);

  const retryAfters: unknown[] = [];
  const answers = new Set<unknown>();
  let newcomers = 0;
  for (let i = 0; i < 50; i++) {
    clock.advance(100);
    const refused = await attack(harness);
    answers.add(codeOf(refused));
    retryAfters.push(retryAfterOf(refused));
    if (codeOf(await requestToken(harness, newCredential(harness))) === undefined) newcomers += 1;
  }
  const figures = {
    reached: `${attackerCalls(harness) - 6} of 50 requests for the 429'd pair reached Aspose`,
    newcomers: `${newcomers} of 50 new credentials served`,
    answers: [...answers],
  };
  t.diagnostic(JSON.stringify(figures));
  assert.deepEqual(figures, {
    reached: "0 of 50 requests for the 429'd pair reached Aspose",
    newcomers: "50 of 50 new credentials served",
    answers: ["UPSTREAM_RATE_LIMITED"],
  });
  // The seconds left, counting down with the clock.
  assert.equal(retryAfters[0], 599);
  assert.equal(retryAfters[49], 594);
});

test("requests for a cooled pair take no slot of the guess budget: a burst of them holds no new credential back", async (t) => {
  const harness = await harnessFor(t, { env: { LOCKOUT_THRESHOLD: "100" }, fake: { pairRateLimit: {} } });
  await fiveGuesses(harness);
  assert.equal(codeOf(await attack(harness)), "UPSTREAM_RATE_LIMITED");
  // All within the same second, well past UPSTREAM_GUESS_BUDGET_PER_SECOND (5).
  const burst = await Promise.all(Array.from({ length: 20 }, () => attack(harness)));
  assert.deepEqual(new Set(burst.map(codeOf)), new Set(["UPSTREAM_RATE_LIMITED"]));
  const newcomers = await Promise.all(
    Array.from({ length: 4 }, () => requestToken(harness, newCredential(harness))),
  );
  assert.deepEqual(newcomers.map(codeOf), Array(4).fill(undefined), "4 of 4 new credentials served");
  assert.equal(attackerCalls(harness), 6);
});

test("a 429 without Retry-After cools the pair for 60 s; a larger Retry-After is capped at 15 minutes", async (t) => {
  const harness = await harnessFor(t, { env: { ASPOSE_RETRY_LIMIT: "0" } });
  const { fake, clock } = harness;
  const quiet = newCredential(harness);
  const loud = newCredential(harness);

  fake.failNext({ kind: "status", status: 429 });
  const first = await requestToken(harness, quiet);
  assert.equal(codeOf(first), "UPSTREAM_RATE_LIMITED");
  assert.equal(retryAfterOf(first), 60);
  clock.advance(59 * SECOND);
  assert.equal(retryAfterOf(await requestToken(harness, quiet)), 1);
  clock.advance(SECOND);
  served(await requestToken(harness, quiet));

  fake.failNext({ kind: "status", status: 429, retryAfter: "86400" });
  assert.equal(retryAfterOf(await requestToken(harness, loud)), 900);
  clock.advance(899 * SECOND);
  assert.equal(codeOf(await requestToken(harness, loud)), "UPSTREAM_RATE_LIMITED");
  clock.advance(SECOND);
  served(await requestToken(harness, loud));
  assert.equal(fake.totalTokenRequests, 4, "two 429s and two tokens; the refusals in between stayed local");
});

test("a cached token for a cooled pair is still served: fresh, during its refresh-ahead window and stale", async (t) => {
  // 600 s tokens: refresh-ahead from 300 s left, hard margin at 60 s left (the defaults).
  const harness = await harnessFor(t, { fake: { lifetimeSeconds: 600 } });
  const { fake, clock } = harness;
  const first = served(await requestToken(harness));

  clock.advance(20 * SECOND);
  fake.failNext({ kind: "status", status: 429, retryAfter: "600" });
  const forced = await requestToken(harness, { forceRefresh: true });
  assert.equal(codeOf(forced), "UPSTREAM_RATE_LIMITED");
  assert.equal(fake.totalTokenRequests, 2);

  const cached = served(await requestToken(harness));
  assert.equal(cached.accessToken, first.accessToken);
  assert.equal(cached.fromCache, true);
  assert.equal(cached.stale, false);

  clock.advance(380 * SECOND);
  const ahead = served(await requestToken(harness));
  assert.equal(ahead.accessToken, first.accessToken);
  assert.equal(ahead.stale, false);
  // The background refresh is refused by the cool-down, without calling Aspose.
  await eventually("the background refresh to fail", async () => {
    return (await metric(harness, 'token_refresh_ahead_total{outcome="failed"}')) === 1;
  });

  clock.advance(160 * SECOND);
  // 560 s: 40 s left, inside the hard margin.
  const stale = served(await requestToken(harness));
  assert.equal(stale.accessToken, first.accessToken);
  assert.equal(stale.stale, true, "inside the hard margin: served stale rather than refused");
  assert.equal(codeOf(await requestToken(harness, { forceRefresh: true })), "UPSTREAM_RATE_LIMITED");
  assert.equal(fake.totalTokenRequests, 2, "Aspose was not called for the pair during its cool-down");

  clock.advance(30 * SECOND);
  assert.equal(served(await requestToken(harness)).stale, true, "590 s: 10 s left, still cooling");
  // The cool-down ends 620 s after the first token, which expired at 600 s.
  clock.advance(30 * SECOND);
  const replaced = served(await requestToken(harness));
  assert.notEqual(replaced.accessToken, first.accessToken, "after the cool-down, a new token");
  assert.equal(fake.totalTokenRequests, 3);
});

test("one pair's 429s, however many, never open the breaker", async (t) => {
  const harness = await harnessFor(t, {
    env: { ASPOSE_RETRY_LIMIT: "0", ASPOSE_BREAKER_THRESHOLD: "2" },
  });
  const { fake, clock } = harness;
  const pair = newCredential(harness);
  for (let i = 0; i < 10; i++) {
    fake.failNext({ kind: "status", status: 429, retryAfter: "1" });
    assert.equal(codeOf(await requestToken(harness, pair)), "UPSTREAM_RATE_LIMITED");
    clock.advance(SECOND);
  }
  assert.equal(fake.totalTokenRequests, 10);
  assert.equal(await circuit(harness), "closed");
  served(await requestToken(harness, newCredential(harness)));
});

test("429s for three distinct pairs within a minute are Aspose limiting the service: they count as faults", async (t) => {
  const harness = await harnessFor(t, {
    env: { ASPOSE_RETRY_LIMIT: "0", ASPOSE_BREAKER_THRESHOLD: "2", ASPOSE_BREAKER_COOLDOWN_SECONDS: "30" },
  });
  const { fake } = harness;
  fake.setFault({ kind: "status", status: 429, retryAfter: "600" });
  for (let i = 0; i < 3; i++) {
    assert.equal(codeOf(await requestToken(harness, newCredential(harness))), "UPSTREAM_RATE_LIMITED");
  }
  assert.equal(await circuit(harness), "closed", "the third pair's 429 is the first fault");
  assert.equal(codeOf(await requestToken(harness, newCredential(harness))), "UPSTREAM_RATE_LIMITED");
  assert.equal(await circuit(harness), "open");
  const refused = await requestToken(harness, newCredential(harness));
  assert.equal(codeOf(refused), "UPSTREAM_UNAVAILABLE");
  assert.equal(retryAfterOf(refused), 30);
  assert.equal(fake.totalTokenRequests, 4, "the open circuit did not call Aspose");
});

test("429s for pairs this replica saw guessed are their cool-downs: three guessed pairs' 429s do not open the breaker", async (t) => {
  const harness = await harnessFor(t, {
    env: { LOCKOUT_THRESHOLD: "100", ASPOSE_BREAKER_THRESHOLD: "1" },
    fake: { pairRateLimit: {} },
  });
  const { clock } = harness;
  const pairs = ["guess-a-0001", "guess-b-0001", "guess-c-0001"];
  for (const clientSecret of pairs) {
    for (let i = 0; i < 5; i++) {
      clock.advance(SECOND);
      const guessed = await requestToken(harness, { clientId: ATTACKER_ID, clientSecret });
      assert.equal(codeOf(guessed), "INVALID_CREDENTIALS");
    }
  }
  clock.advance(SECOND);
  for (const clientSecret of pairs) {
    const limited = await requestToken(harness, { clientId: ATTACKER_ID, clientSecret });
    assert.equal(codeOf(limited), "UPSTREAM_RATE_LIMITED");
  }
  assert.equal(await circuit(harness), "closed", "three distinct pairs, but each one's own cool-down");
  served(await requestToken(harness, newCredential(harness)));
});

test("an INVALID_CREDENTIALS answer clears the breaker's count: Aspose is up and answering", async (t) => {
  const harness = await harnessFor(t, {
    env: { ASPOSE_RETRY_LIMIT: "0", ASPOSE_BREAKER_THRESHOLD: "3" },
  });
  const { fake } = harness;
  const outcomes: unknown[] = [];
  for (const step of ["503", "503", "wrong", "503", "503"] as const) {
    // A second apart, as the guess budget needs for unverified credentials that fail.
    harness.clock.advance(SECOND);
    if (step === "503") fake.failNext({ kind: "status", status: 503 });
    const result =
      step === "wrong"
        ? await requestToken(harness, { clientSecret: "wrong-secret-0001" })
        : await requestToken(harness, newCredential(harness));
    outcomes.push(codeOf(result));
  }
  assert.deepEqual(outcomes, [
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_UNAVAILABLE",
    "INVALID_CREDENTIALS",
    "UPSTREAM_UNAVAILABLE",
    "UPSTREAM_UNAVAILABLE",
  ]);
  assert.equal(await circuit(harness), "closed");
  harness.clock.advance(SECOND);
  served(await requestToken(harness, newCredential(harness)));
  assert.equal(fake.totalTokenRequests, 6);
});
