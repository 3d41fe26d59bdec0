import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import fc from "fast-check";
import { freePort } from "../../../dev/ports.js";
import type { AttemptReservation, LockoutPolicy } from "../../../src/limits/attempt-limiter.js";
import { MemoryAttemptLimiter } from "../../../src/stores/memory/memory-attempt-limiter.js";
import { MemoryVerifierStore } from "../../../src/stores/memory/memory-verifier-store.js";
import { RedisAttemptLimiter } from "../../../src/stores/redis/redis-attempt-limiter.js";
import type { RedisHealth } from "../../../src/stores/redis/redis-health.js";
import { RedisVerifierStore } from "../../../src/stores/redis/redis-verifier-store.js";
import { TestClock } from "../../support/harness.js";
import { connectHealth, deleteKeys, eventually, scanKeys, uniquePrefix } from "../../support/replicas.js";
import { sharedStoresFor } from "../../support/topologies.js";

const POLICY: LockoutPolicy = {
  threshold: 2,
  addressThreshold: 3,
  windowSeconds: 60,
  baseSeconds: 5,
  maxSeconds: 20,
  // Roomy: these tests share one key prefix, and reservations some leave in flight would fill a small
  // guess budget for the next. The equivalence runs each on its own prefix, with a budget it meets.
  guessesPerSecond: 1000,
};
const RESERVATION_TTL_MS = 30_000;

const prefix = uniquePrefix("limiter");
// The standalone Redis and, for the same rules on a real 3-master Redis Cluster, a fresh cluster.
const shared = sharedStoresFor(prefix);

function redisLimiter(
  health: RedisHealth,
  clock: TestClock,
  keyPrefix = prefix,
  onLockout?: (subject: "client" | "address") => void,
  policy = POLICY,
): RedisAttemptLimiter {
  return new RedisAttemptLimiter({
    health,
    keyPrefix,
    policy,
    clock: clock.now,
    reservationTtlMs: RESERVATION_TTL_MS,
    local: new MemoryAttemptLimiter(policy, clock.now),
    onLockout,
  });
}

function subject(): string {
  return randomBytes(12).toString("base64url");
}

type Operation =
  | { kind: "locked"; client: number; address: number }
  | { kind: "reserve"; client: number; address: number }
  | { kind: "settle"; index: number; outcome: "succeeded" | "failed" | "released" }
  | { kind: "advance"; ms: number };

const operation: fc.Arbitrary<Operation> = fc.oneof(
  fc.record({ kind: fc.constant("locked" as const), client: fc.nat(1), address: fc.nat(1) }),
  fc.record({ kind: fc.constant("reserve" as const), client: fc.nat(1), address: fc.nat(1) }),
  fc.record({ kind: fc.constant("reserve" as const), client: fc.nat(1), address: fc.nat(1) }),
  fc.record({
    kind: fc.constant("settle" as const),
    index: fc.nat(5),
    outcome: fc.constantFrom("succeeded" as const, "failed" as const, "failed" as const, "released" as const),
  }),
  fc.record({
    kind: fc.constant("advance" as const),
    ms: fc.constantFrom(500, 4_000, 6_000, 21_000, 61_000),
  }),
);

async function equivalence(health: () => RedisHealth): Promise<void> {
  const refusedFor = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 40 }), async (operations) => {
      const clock = new TestClock();
      const memoryLockouts: string[] = [];
      const redisLockouts: string[] = [];
      // Two clients may have four attempts in flight: a budget of three is met now and then.
      const policy = { ...POLICY, guessesPerSecond: 3 };
      const memory = new MemoryAttemptLimiter(policy, clock.now, (s) => memoryLockouts.push(s));
      const keyPrefix = uniquePrefix("limiter-equivalence");
      const shared = redisLimiter(health(), clock, keyPrefix, (s) => redisLockouts.push(s), policy);
      const clients = [subject(), subject()];
      const addresses = [subject(), subject()];
      const open: [AttemptReservation, AttemptReservation][] = [];
      for (const [step, op] of operations.entries()) {
        if (op.kind === "advance") {
          // Time moves only between whole attempts: Redis also expires stale reservations, which the
          // in-memory limiter has no need for (its process cannot die and leave one behind).
          if (open.length === 0) clock.advance(op.ms);
        } else if (op.kind === "locked") {
          const c = clients[op.client] ?? "";
          const a = addresses[op.address] ?? "";
          assert.deepEqual(await shared.lockedFor(c, a), await memory.lockedFor(c, a), `step ${step}`);
        } else if (op.kind === "reserve") {
          const c = clients[op.client] ?? "";
          const a = addresses[op.address] ?? "";
          const fromMemory = await memory.reserve(c, a);
          const fromRedis = await shared.reserve(c, a);
          assert.equal(fromRedis.allowed, fromMemory.allowed, `step ${step}`);
          if (fromMemory.allowed && fromRedis.allowed)
            open.push([fromMemory.reservation, fromRedis.reservation]);
          // The reason too: metrics count refusals by it.
          if (!fromMemory.allowed && !fromRedis.allowed) {
            assert.deepEqual(fromRedis, fromMemory, `step ${step}`);
            refusedFor.add(fromMemory.reason);
          }
        } else if (open.length > 0) {
          const [pair] = open.splice(op.index % open.length, 1);
          if (pair !== undefined) {
            await pair[0][op.outcome]();
            await pair[1][op.outcome]();
          }
        }
        assert.deepEqual(redisLockouts, memoryLockouts, `step ${step}`);
      }
    }),
    { numRuns: 40 },
  );
  // The runs met the guess budget as well as the per-subject rules.
  assert.ok(refusedFor.has("global_busy") && refusedFor.has("client_busy"), [...refusedFor].join(", "));
}

test("the Redis limiter answers exactly as the in-memory one, step by step", () =>
  equivalence(() => shared.redis.health));

test("on a Redis Cluster too, the limiter answers exactly as the in-memory one", () =>
  equivalence(() => shared.onCluster.health));

test("failures on one replica lock the clientId out on another, with a growing back-off", async () => {
  const clock = new TestClock();
  const replicaA = redisLimiter(shared.redis.health, clock);
  const replicaB = redisLimiter(shared.redis.health, clock);
  const client = subject();
  for (const limiter of [replicaA, replicaB]) {
    const reserved = await limiter.reserve(client, subject());
    assert.ok(reserved.allowed);
    await reserved.reservation.failed();
  }
  assert.equal((await replicaA.lockedFor(client, subject()))?.retryAfterSeconds, 5);
  assert.equal((await replicaB.lockedFor(client, subject()))?.retryAfterSeconds, 5);
  clock.advance(5_000);
  assert.equal(await replicaB.lockedFor(client, subject()), undefined);
  // Second strike within the window: twice as long.
  for (const limiter of [replicaB, replicaA]) {
    const reserved = await limiter.reserve(client, subject());
    assert.ok(reserved.allowed);
    await reserved.reservation.failed();
  }
  assert.equal((await replicaA.lockedFor(client, subject()))?.retryAfterSeconds, 10);
});

async function burst(health: RedisHealth): Promise<void> {
  const clock = new TestClock();
  const replicas = [redisLimiter(health, clock), redisLimiter(health, clock)];
  const client = subject();
  const results = await Promise.all(
    Array.from({ length: 10 }, (_, i) => replicas[i % 2]?.reserve(client, subject())),
  );
  assert.equal(results.filter((result) => result?.allowed).length, POLICY.threshold);
  const refused = results.find((result) => result !== undefined && !result.allowed);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1, reason: "client_busy" });
}

test("attempts in flight on other replicas count: a burst cannot slip past the threshold", () =>
  burst(shared.redis.health));

test("on a Redis Cluster too, a burst over two replicas cannot slip past the threshold", () =>
  burst(shared.onCluster.health));

test("an address's attempts in flight count from its first request, across replicas (concurrent spraying)", async () => {
  const clock = new TestClock();
  const replicas = [redisLimiter(shared.redis.health, clock), redisLimiter(shared.redis.health, clock)];
  const address = subject();
  // A clean address, one guess per clientId: before issue 11 the whole burst got through.
  const results = await Promise.all(
    Array.from({ length: 12 }, (_, i) => replicas[i % 2]?.reserve(subject(), address)),
  );
  assert.equal(results.filter((result) => result?.allowed).length, POLICY.addressThreshold);
  const refused = results.find((result) => result !== undefined && !result.allowed);
  assert.deepEqual(refused, { allowed: false, retryAfterSeconds: 1, reason: "address_busy" });
});

test("verifiers are shared by replicas, follow the clock, and are dropped on rejection", async () => {
  const clock = new TestClock();
  const keyPrefix = uniquePrefix("verifiers");
  const ttlMs = 60_000;
  const verifiers = () =>
    new RedisVerifierStore({
      health: shared.redis.health,
      keyPrefix,
      ttlMs,
      clock: clock.now,
      local: new MemoryVerifierStore({ ttlMs, clock: clock.now, maxEntries: 100 }),
    });
  const [replicaA, replicaB, replicaC] = [verifiers(), verifiers(), verifiers()];
  const known = subject();
  assert.equal(await replicaB.has(known), false);
  await replicaA.remember(known, 0);
  assert.equal(await replicaB.has(known), true);
  // The key is the lookup key (an HMAC), never a secret; it expires by itself.
  assert.deepEqual(await scanKeys(shared.redis.client, keyPrefix), [`${keyPrefix}verifier:${known}`]);
  const ttl = await shared.redis.client.pttl(`${keyPrefix}verifier:${known}`);
  assert.ok(ttl > 0 && ttl <= ttlMs, `ttl ${ttl}`);
  // A token that lives longer than the verifier lifetime keeps its verifier as long.
  const longLived = subject();
  await replicaA.remember(longLived, clock.now() + 10 * ttlMs);
  clock.advance(ttlMs);
  assert.equal(await replicaC.has(known), false);
  assert.equal(await replicaC.has(longLived), true);
  // Rejected through A: gone for C, which had not cached it; B's local copy lingers by design.
  await replicaA.forget(longLived);
  assert.equal(await replicaA.has(longLived), false);
  assert.equal(await verifiers().has(longLived), false);
  await deleteKeys(shared.redis.client, keyPrefix);
});

test("a reservation left by a crashed replica stops counting once it expires", async () => {
  const clock = new TestClock();
  const crashed = redisLimiter(shared.redis.health, clock);
  const survivor = redisLimiter(shared.redis.health, clock);
  const client = subject();
  for (let i = 0; i < POLICY.threshold; i++) assert.ok((await crashed.reserve(client, subject())).allowed);
  assert.equal((await survivor.reserve(client, subject())).allowed, false);
  clock.advance(RESERVATION_TTL_MS + 1);
  assert.equal((await survivor.reserve(client, subject())).allowed, true);
});

test("a success clears the clientId's counts; the limiter's keys are five, whatever the subjects, and hold only subject keys", async () => {
  const clock = new TestClock();
  const keyPrefix = uniquePrefix("limiter-keys");
  const limiter = redisLimiter(shared.redis.health, clock, keyPrefix);
  const client = subject();
  const address = subject();
  const first = await limiter.reserve(client, address);
  assert.ok(first.allowed);
  await first.reservation.failed();
  const base = `${keyPrefix}{attempts}`;
  // The settled reservation left nothing in flight (those keys emptied, so deleted); the counts stay,
  // and the failure holds its place in the guess budget for a second.
  assert.deepEqual((await scanKeys(shared.redis.client, keyPrefix)).sort(), [
    `${base}:expiry`,
    `${base}:guesses`,
    `${base}:subjects`,
  ]);
  assert.equal(
    Number((await shared.redis.client.zrange(`${base}:guesses`, 0, -1, "WITHSCORES"))[1]),
    clock.now() + 1000,
  );
  assert.deepEqual(Object.keys(await shared.redis.client.hgetall(`${base}:subjects`)).sort(), [
    `a:${address}`,
    `c:${client}`,
  ]);
  // Expiry lives inside (each subject's counts matter for the window); the keys themselves carry no
  // TTL, so a volatile-* eviction policy cannot take them.
  const expiry = Number(await shared.redis.client.zscore(`${base}:expiry`, `c:${client}`));
  assert.equal(expiry, clock.now() + POLICY.windowSeconds * 1000);
  assert.equal(await shared.redis.client.pttl(`${base}:subjects`), -1);
  const second = await limiter.reserve(client, address);
  assert.ok(second.allowed);
  const lapses = await shared.redis.client.zrange(`${base}:pending`, 0, -1, "WITHSCORES");
  assert.equal(lapses.length, 4);
  assert.equal(Number(lapses[1]), clock.now() + RESERVATION_TTL_MS);
  await second.reservation.succeeded();
  // The clientId starts over; the address keeps its failure (one valid account must not be able to
  // clear the address count between guesses at other clients).
  assert.deepEqual(Object.keys(await shared.redis.client.hgetall(`${base}:subjects`)), [`a:${address}`]);
  clock.advance(POLICY.windowSeconds * 1000 + 1);
  const third = await limiter.reserve(subject(), subject());
  assert.ok(third.allowed);
  await third.reservation.released();
  const fourth = await limiter.reserve(subject(), subject());
  assert.ok(fourth.allowed);
  await fourth.reservation.failed();
  // Past the window the address's counts were dropped by the next settle.
  assert.equal(await shared.redis.client.hget(`${base}:subjects`, `a:${address}`), null);
  await deleteKeys(shared.redis.client, keyPrefix);
});

test("20,000 failed attempts over fresh clientIds and addresses keep Redis within the subject bound, in three keys; lockouts are kept longest", async () => {
  const clock = new TestClock();
  const keyPrefix = uniquePrefix("limiter-bound");
  const maxSubjects = 200;
  // The victim's lockout outlasts the flood's 40 s.
  const policy = { ...POLICY, guessesPerSecond: 1000, baseSeconds: 60, maxSeconds: 60 };
  const limiter = new RedisAttemptLimiter({
    health: shared.redis.health,
    keyPrefix,
    policy,
    clock: clock.now,
    reservationTtlMs: RESERVATION_TTL_MS,
    local: new MemoryAttemptLimiter(policy, clock.now),
    maxSubjects,
  });
  // A victim locked out first, by another replica (so only Redis holds it).
  const victim = subject();
  const elsewhere = redisLimiter(shared.redis.health, clock, keyPrefix, undefined, policy);
  for (let i = 0; i < POLICY.threshold; i++) {
    const reserved = await elsewhere.reserve(victim, subject());
    assert.ok(reserved.allowed);
    await reserved.reservation.failed();
  }
  const base = `${keyPrefix}{attempts}`;
  const memoryBefore = await usedMemory();
  // 2 ms apart: 500 failures a second, within the guess budget; 40 s in all, within the window, so
  // without the bound Redis would hold 40,002 subjects (about 10 MB).
  for (let i = 0; i < 20_000; i++) {
    clock.advance(2);
    const reserved = await limiter.reserve(subject(), subject());
    assert.ok(reserved.allowed, `attempt ${i}`);
    await reserved.reservation.failed();
  }
  const grown = (await usedMemory()) - memoryBefore;
  assert.equal((await scanKeys(shared.redis.client, keyPrefix)).length, 3);
  assert.ok((await shared.redis.client.hlen(`${base}:subjects`)) <= maxSubjects);
  assert.ok((await shared.redis.client.zcard(`${base}:expiry`)) <= maxSubjects);
  assert.ok((await shared.redis.client.zcard(`${base}:guesses`)) <= policy.guessesPerSecond);
  assert.ok(grown < 1024 * 1024, `Redis grew by ${grown} bytes`);
  assert.equal((await limiter.lockedFor(victim, subject()))?.reason, "client_locked");
  await deleteKeys(shared.redis.client, keyPrefix);
});

async function usedMemory(): Promise<number> {
  const info = await shared.redis.client.info("memory");
  return Number(/^used_memory:(\d+)/m.exec(info)?.[1]);
}

test("with Redis unreachable the limiter keeps counting locally", async () => {
  const dead = await connectHealth(`redis://127.0.0.1:${await freePort()}`, { waitUp: false });
  try {
    const clock = new TestClock();
    const limiter = redisLimiter(dead.health, clock);
    const client = subject();
    for (let i = 0; i < POLICY.threshold; i++) {
      const reserved = await limiter.reserve(client, subject());
      assert.ok(reserved.allowed);
      await reserved.reservation.failed();
    }
    assert.equal((await limiter.lockedFor(client, subject()))?.retryAfterSeconds, 5);
    assert.equal(dead.health.up(), false);
  } finally {
    await dead.close();
  }
});

test("the guess budget is one window in Redis for all replicas, and each replica's own while Redis cannot answer", async () => {
  const clock = new TestClock();
  const policy = { ...POLICY, guessesPerSecond: 3 };
  const keyPrefix = uniquePrefix("limiter-guesses");
  const replicas = [0, 1].map(() => redisLimiter(shared.redis.health, clock, keyPrefix, undefined, policy));
  // Fresh clientIds and addresses: only the budget they all share can refuse them.
  const taken: AttemptReservation[] = [];
  for (let i = 0; i < 4; i++) {
    const reserved = await replicas[i % 2]?.reserve(subject(), subject());
    if (i < 3) {
      assert.ok(reserved?.allowed, `attempt ${i}`);
      taken.push(reserved.reservation);
    } else assert.deepEqual(reserved, { allowed: false, retryAfterSeconds: 1, reason: "global_busy" });
  }
  // An accepted attempt gives its place back at once; a failed or inconclusive one keeps it for a
  // second (it reached Aspose, or may have).
  await taken[0]?.succeeded();
  await taken[1]?.failed();
  await taken[2]?.released();
  const next = await replicas[1]?.reserve(subject(), subject());
  assert.ok(next?.allowed);
  await next.reservation.failed();
  assert.equal((await replicas[0]?.reserve(subject(), subject()))?.allowed, false);
  assert.equal((await replicas[1]?.reserve(subject(), subject()))?.allowed, false);
  clock.advance(1000);
  assert.ok((await replicas[1]?.reserve(subject(), subject()))?.allowed);
  await deleteKeys(shared.redis.client, keyPrefix);

  const dead = await connectHealth(`redis://127.0.0.1:${await freePort()}`, { waitUp: false });
  try {
    const alone = redisLimiter(dead.health, clock, keyPrefix, undefined, policy);
    const results = [];
    for (let i = 0; i < 4; i++) results.push((await alone.reserve(subject(), subject())).allowed);
    assert.deepEqual(results, [true, true, true, false]);
  } finally {
    await dead.close();
  }
});

test("an outcome Redis missed (a timeout, a failover) is offered again: the shared budget's place is freed once Redis answers, not when the reservation lapses", async () => {
  const clock = new TestClock();
  const policy = { ...POLICY, guessesPerSecond: 1 };
  const keyPrefix = uniquePrefix("limiter-owed");
  // Its own connection, whose limiter calls the test can withhold as a timeout would fail them.
  const own = await connectHealth(`redis://127.0.0.1:${shared.redis.client.options.port}`);
  try {
    const replica = redisLimiter(own.health, clock, keyPrefix, undefined, policy);
    const other = redisLimiter(shared.redis.health, clock, keyPrefix, undefined, policy);
    const reserved = await replica.reserve(subject(), subject());
    assert.ok(reserved.allowed);
    own.health.withhold("limiter", true);
    await reserved.reservation.succeeded();
    // Redis still holds the place: the other replica is refused while its end is owed.
    assert.equal((await other.reserve(subject(), subject())).allowed, false);
    own.health.withhold("limiter", false);
    // The injected clock stands still: only the owed outcome can free the place, not its lapse.
    const next = await eventually("the owed outcome to reach Redis", async () => {
      const attempt = await other.reserve(subject(), subject());
      return attempt.allowed ? attempt : undefined;
    });
    await next.reservation.succeeded();
    await replica.close();
    await other.close();
  } finally {
    await own.close();
    await deleteKeys(shared.redis.client, keyPrefix);
  }
});

test("guess slots written for the far future (a replica whose clock runs ahead, or forged) do not keep the budget full", async () => {
  const clock = new TestClock();
  const policy = { ...POLICY, guessesPerSecond: 3 };
  const keyPrefix = uniquePrefix("limiter-skew");
  const limiter = redisLimiter(shared.redis.health, clock, keyPrefix, undefined, policy);
  const guesses = `${keyPrefix}{attempts}:guesses`;
  for (let i = 0; i < policy.guessesPerSecond; i++)
    await shared.redis.client.zadd(guesses, clock.now() + 3_600_000, `ahead-${i}`);
  assert.ok((await limiter.reserve(subject(), subject())).allowed);
  // A slot within a reservation's lifetime still counts.
  await shared.redis.client.zadd(guesses, clock.now() + RESERVATION_TTL_MS, "in-flight-elsewhere");
  assert.ok((await limiter.reserve(subject(), subject())).allowed);
  assert.deepEqual(await limiter.reserve(subject(), subject()), {
    allowed: false,
    retryAfterSeconds: 1,
    reason: "global_busy",
  });
  await deleteKeys(shared.redis.client, keyPrefix);
});

async function scriptCalls(): Promise<number> {
  const stats = await shared.redis.client.info("commandstats");
  let calls = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:eval|evalsha):calls=(\d+)/gm)) calls += Number(match[1]);
  return calls;
}

test("cache hits do not ask Redis for the lockout on every request", async () => {
  const limiter = redisLimiter(shared.redis.health, new TestClock());
  const client = subject();
  const address = subject();
  const before = await scriptCalls();
  for (let i = 0; i < 50; i++) assert.equal(await limiter.lockedFor(client, address), undefined);
  // One round trip finds the pair clear; the rest reuse that answer (INFO itself is not a script).
  assert.ok((await scriptCalls()) - before <= 2, `${(await scriptCalls()) - before} script calls`);
});

test("a lockout made on another replica still stops upstream attempts at once", async () => {
  const clock = new TestClock();
  const replicaA = redisLimiter(shared.redis.health, clock);
  const replicaB = redisLimiter(shared.redis.health, clock);
  const client = subject();
  const address = subject();
  assert.equal(await replicaB.lockedFor(client, address), undefined);
  for (let i = 0; i < POLICY.threshold; i++) {
    const reserved = await replicaA.reserve(client, address);
    assert.ok(reserved.allowed);
    await reserved.reservation.failed();
  }
  assert.equal((await replicaA.lockedFor(client, address))?.retryAfterSeconds, POLICY.baseSeconds);
  // B may still take the pair as clear for a moment, but an upstream attempt is refused by Redis.
  const attempt = await replicaB.reserve(client, address);
  assert.equal(attempt.allowed, false);
  if (!attempt.allowed) {
    assert.equal(attempt.retryAfterSeconds, POLICY.baseSeconds);
    assert.equal(attempt.reason, "client_locked");
  }
});
