/**
 * The guess budget: guessing spread over many addresses and clientIds, which the per-subject lockouts
 * cannot see, tried as an attacker would through the real HTTP edge (TRUSTED_PROXIES and a rotating
 * X-Forwarded-For) against the fake Aspose, in memory and with the shared (Redis) stores. The injected
 * clock moves one second at a time, so "per second" is counted exactly.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { type TestContext, test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../dev/fake-aspose.js";
import { loadConfig } from "../../src/config/index.js";
import { type Answer, type Ask, ask as askFrom } from "../support/addressed-requests.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  type HarnessOptions,
  harnessFor,
  leakedSecrets,
  TestClock,
} from "../support/harness.js";
import { reachedRedis, scanKeys, throwawayRedisFor, uniquePrefix } from "../support/replicas.js";

// The default budget: the one production gets unless an operator changes it.
const BUDGET = loadConfig({}).limits.lockout.guessesPerSecond;
const LOCKOUT_MAX_SECONDS = loadConfig({}).limits.lockout.maxSeconds;
const ADDRESSES = 250;
const SECONDS = 8;
// Requests in flight at once: a burst, as a botnet would send.
const CONCURRENCY = 25;
const PROXY = "127.0.0.1";
const NEWCOMER_SECRET = "newcomer-secret-0123456789abcdef";
const redisServer = throwawayRedisFor();

function assertServed(answer: Answer, what: string): string {
  assert.equal(answer.code, undefined, `${what}: ${answer.text}`);
  assert.ok(answer.token !== undefined && answer.token.length > 0, `${what}: ${answer.text}`);
  return answer.token;
}

/** credential_attempts_refused_total for one reason, from /metrics. */
async function refusals(harness: Harness, reason: string): Promise<number> {
  const text = await (await fetch(`${harness.origin}/metrics`)).text();
  const line = text
    .split("\n")
    .find((l) => l.startsWith(`credential_attempts_refused_total{reason="${reason}"}`));
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

/** Guesses that reached the fake Aspose so far (the owner's and newcomers' calls are not guesses). */
function guessesReached(fake: FakeAspose): number {
  return fake.requests.filter((request) => request.clientId?.startsWith("guess-") === true).length;
}

/**
 * One second of the attack: a guess from each of the 250 addresses, each for its own clientId, sent
 * CONCURRENCY at a time over `harnesses` in turn, with the owner's forced refresh in the middle.
 * Returns every answer the guesses got and the owner's token.
 */
async function attackSecond(
  harnesses: readonly Harness[],
  second: number,
): Promise<{ answers: Answer[]; owner: string }> {
  const answers: Answer[] = [];
  let owner = "";
  for (let start = 0; start < ADDRESSES; start += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, ADDRESSES - start) }, (_, j) => {
      const i = start + j;
      const harness = harnesses[i % harnesses.length] as Harness;
      return ask(harness, {
        clientId: `guess-${second}-${i}`,
        clientSecret: `wrong-${randomBytes(8).toString("hex")}`,
        forwardedFor: `10.26.${Math.floor(i / 200)}.${(i % 200) + 1}`,
      });
    });
    if (start === CONCURRENCY * 4) {
      // The owner, known-good, forces a refresh while the budget is full: it goes upstream all the same.
      const refreshed = ask(harnesses[0] as Harness, { forceRefresh: true, forwardedFor: "192.0.2.7" });
      owner = assertServed(await refreshed, `second ${second}: the owner's forced refresh`);
    }
    answers.push(...(await Promise.all(batch)));
  }
  return { answers, owner };
}

interface Figures {
  readonly perSecond: number[];
  readonly refused: number;
}

/** The whole attack over SECONDS seconds of the injected clock; the guesses that reached Aspose each second. */
async function attack(harnesses: readonly Harness[], clock: TestClock, fake: FakeAspose): Promise<Figures> {
  const perSecond: number[] = [];
  const ownerTokens = new Set<string>();
  let refused = 0;
  for (let second = 0; second < SECONDS; second++) {
    const before = guessesReached(fake);
    const { answers, owner } = await attackSecond(harnesses, second);
    perSecond.push(guessesReached(fake) - before);
    ownerTokens.add(owner);
    for (const answer of answers) {
      assert.ok(["INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"].includes(answer.code ?? ""), answer.text);
      if (answer.code === "TOO_MANY_ATTEMPTS") {
        refused += 1;
        assert.equal(answer.retryAfter, 1, answer.text);
      }
    }
    if (second < SECONDS - 1) clock.advance(1000);
  }
  // Each forced refresh was a real upstream call, never held back: a new token every second.
  assert.equal(ownerTokens.size, SECONDS);
  return { perSecond, refused };
}

/** After the burst: a brand-new valid credential waits out one second, then is served; so is the next. */
async function newcomers(harness: Harness, fake: FakeAspose, clock: TestClock): Promise<void> {
  fake.addClient("newcomer-1", NEWCOMER_SECRET);
  fake.addClient("newcomer-2", NEWCOMER_SECRET);
  const early = await ask(harness, { clientId: "newcomer-1", clientSecret: NEWCOMER_SECRET });
  // The last second's failures fill the budget: the newcomer is told to come back in a second.
  assert.equal(early.code, "TOO_MANY_ATTEMPTS", early.text);
  assert.equal(early.retryAfter, 1);
  clock.advance(1000);
  assertServed(await ask(harness, { clientId: "newcomer-1", clientSecret: NEWCOMER_SECRET }), "newcomer 1");
  // An accepted attempt gave its place back: the next newcomer is not held up by the first.
  assertServed(await ask(harness, { clientId: "newcomer-2", clientSecret: NEWCOMER_SECRET }), "newcomer 2");
}

/** The keys under `prefix`, and the sizes of the limiter's subjects and guess slots. */
async function leftInRedis(
  t: TestContext,
  prefix: string,
): Promise<{ keys: string[]; subjects: number; guesses: number }> {
  const redis = new Redis(redisServer.url);
  t.after(() => redis.quit());
  return {
    keys: await scanKeys(redis, prefix),
    subjects: await redis.hlen(`${prefix}{attempts}:subjects`),
    guesses: await redis.zcard(`${prefix}{attempts}:guesses`),
  };
}

function sharedEnv(prefix: string, cacheKey: string): Record<string, string> {
  return { REDIS_URL: redisServer.url, REDIS_KEY_PREFIX: prefix, TOKEN_CACHE_KEY: cacheKey };
}

async function start(t: TestContext, options: HarnessOptions): Promise<Harness> {
  const harness = await harnessFor(t, {
    ...options,
    env: { TRUSTED_PROXIES: PROXY, FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0", ...options.env },
  });
  t.after(() => assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, NEWCOMER_SECRET]), []));
  if (options.env?.REDIS_URL !== undefined) await reachedRedis(harness);
  return harness;
}

for (const mode of ["memory", "redis"] as const) {
  test(`${mode}: guessing over ${ADDRESSES} rotating addresses and 2,000 clientIds reaches Aspose at most ${BUDGET} times a second; the owner keeps being served`, async (t) => {
    const prefix = uniquePrefix("guess-budget");
    const env = mode === "redis" ? sharedEnv(prefix, randomBytes(32).toString("base64")) : {};
    const harness = await start(t, { env });
    assertServed(await ask(harness, { forwardedFor: "192.0.2.7" }), "the owner's first token");
    const { perSecond, refused } = await attack([harness], harness.clock, harness.fake);
    const total = perSecond.reduce((a, b) => a + b, 0);
    t.diagnostic(
      `${ADDRESSES * SECONDS} guesses over ${SECONDS} s: ${total} reached Aspose (per second: ${perSecond.join(", ")}), ${refused} refused`,
    );
    // What the attack left in Redis: the limiter's few keys (subjects only for the guesses that
    // reached Aspose), the owner's token and verifier; nothing per refused guess.
    const left = mode === "redis" ? await leftInRedis(t, prefix) : undefined;
    if (left !== undefined)
      t.diagnostic(`Redis after the attack: ${left.keys.length} keys, ${left.subjects} limiter subjects`);
    for (const [second, reached] of perSecond.entries())
      assert.ok(reached <= BUDGET, `second ${second}: ${reached} guesses reached Aspose`);
    assert.equal(await refusals(harness, "global_busy"), refused);
    if (left !== undefined) {
      assert.ok(left.keys.length <= 8, left.keys.join("\n"));
      assert.ok(left.subjects <= 2 * total, `${left.subjects} subjects`);
      assert.ok(left.guesses <= BUDGET, `${left.guesses} guess slots`);
    }
    await newcomers(harness, harness.fake, harness.clock);
  });
}

test(`redis: two instances on one Redis share one budget of ${BUDGET} a second`, async (t) => {
  const clock = new TestClock();
  const fake = await FakeAspose.start({ clients: { [CLIENT_ID]: CLIENT_SECRET }, now: clock.now });
  t.after(() => fake.close());
  const env = sharedEnv(uniquePrefix("guess-budget-shared"), randomBytes(32).toString("base64"));
  const first = await start(t, { env, clock, upstream: fake });
  const second = await start(t, { env, clock, upstream: fake });
  assertServed(await ask(first, { forwardedFor: "192.0.2.7" }), "the owner's first token");
  const { perSecond, refused } = await attack([first, second], clock, fake);
  t.diagnostic(`two instances, per second: ${perSecond.join(", ")}; ${refused} refused`);
  for (const [index, reached] of perSecond.entries())
    assert.ok(reached <= BUDGET, `second ${index}: ${reached} guesses reached Aspose from two instances`);
  assert.ok((await refusals(first, "global_busy")) > 0 && (await refusals(second, "global_busy")) > 0);
  await newcomers(second, fake, clock);
});

test("redis: a lock record forged in Redis never makes a retryAfter longer than LOCKOUT_MAX_SECONDS", async (t) => {
  const prefix = uniquePrefix("guess-budget-forged");
  const harness = await start(t, { env: sharedEnv(prefix, randomBytes(32).toString("base64")) });
  const redis = new Redis(redisServer.url);
  t.after(() => redis.quit());
  const subjects = `${prefix}{attempts}:subjects`;
  // Locked until the year 5138, and until past what a 64-bit integer holds.
  for (const [n, until] of ["98203383264000", "99999999999999999999999"].entries()) {
    const victim = { clientId: `forged-victim-${n}`, clientSecret: "wrong-0123456789abcdef" };
    const address = `10.9.${n}.1`;
    const before = new Set(Object.keys(await redis.hgetall(subjects)));
    assert.equal((await ask(harness, { ...victim, forwardedFor: address })).code, "INVALID_CREDENTIALS");
    const written = Object.keys(await redis.hgetall(subjects)).filter((name) => !before.has(name));
    assert.equal(written.length, 2, written.join(", "));
    for (const name of written) await redis.hset(subjects, name, `0:${harness.clock.now()}:${until}:1`);
    harness.clock.advance(1);
    // The clientId from elsewhere, and another clientId from the address: each locked, for at most
    // the longest lockout the policy allows.
    for (const who of [
      { ...victim, forwardedFor: `10.9.${n}.2` },
      { ...victim, clientId: `bystander-${n}`, forwardedFor: address },
    ]) {
      const answer = await ask(harness, who);
      assert.equal(answer.code, "TOO_MANY_ATTEMPTS", answer.text);
      assert.equal(answer.retryAfter, LOCKOUT_MAX_SECONDS, answer.text);
    }
  }
});

/** One accessToken request, from PROXY unless the options say otherwise. */
function ask(harness: Harness, options: Ask = {}): Promise<Answer> {
  return askFrom(harness, { from: PROXY, ...options });
}
