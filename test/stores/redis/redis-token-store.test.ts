import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { freePort } from "../../../dev/ports.js";
import { lockoutPolicy } from "../../../src/limits/attempt-limiter.js";
import { CredentialGate } from "../../../src/limits/credential-gate.js";
import { MemoryAttemptLimiter } from "../../../src/stores/memory/memory-attempt-limiter.js";
import { MemoryVerifierStore } from "../../../src/stores/memory/memory-verifier-store.js";
import type { RedisHealth } from "../../../src/stores/redis/redis-health.js";
import { RedisTokenStore } from "../../../src/stores/redis/redis-token-store.js";
import { TokenSealer } from "../../../src/stores/redis/token-sealer.js";
import { type Credential, CredentialKeyer } from "../../../src/tokens/credential.js";
import type { TokenIssuer } from "../../../src/tokens/ports.js";
import { TokenService } from "../../../src/tokens/token-service.js";
import type { IssuedToken, ServedToken } from "../../../src/tokens/types.js";
import { TestClock } from "../../support/harness.js";
import { requestCommands, traceCommands, writtenAfterFirstDeadline } from "../../support/redis-commands.js";
import { connectHealth, eventually, ThrowawayRedis, uniquePrefix } from "../../support/replicas.js";
import { sharedStoresFor } from "../../support/topologies.js";

const SERVER_KEY = randomBytes(32);
const keyer = new CredentialKeyer(SERVER_KEY, "http://127.0.0.1/connect/token");
const prefix = uniquePrefix("token-cache");
// The standalone Redis and, for the same rules on a real 3-master Redis Cluster, a fresh cluster.
const shared = sharedStoresFor(prefix);

/** A replica's store: its own local tier, the shared Redis. */
function replicaCache(
  clock: TestClock,
  options: { health?: RedisHealth; lockTtlMs?: number; onLockWait?: () => void } = {},
): Replica {
  const lockTtlMs = options.lockTtlMs ?? 5_000;
  const store = new RedisTokenStore({
    health: options.health ?? shared.redis.health,
    sealer: new TokenSealer(SERVER_KEY),
    keyPrefix: prefix,
    maxEntries: 100,
    leaseMs: lockTtlMs,
    clock: clock.now,
  });
  return { store, lockTtlMs, onLockWait: options.onLockWait, services: new WeakMap() };
}

/** One replica: its store, and the token service it runs per upstream (each with its own flights). */
interface Replica {
  readonly store: RedisTokenStore;
  readonly lockTtlMs: number;
  readonly onLockWait: (() => void) | undefined;
  readonly services: WeakMap<Upstream, TokenService>;
}

function newCredentials(): Credential {
  return keyer.credential(`client-${randomBytes(6).toString("hex")}`, randomBytes(16).toString("hex"));
}

/** The upstream, as a counted function issuing distinct tokens; `gate` holds fetches until opened. */
class Upstream implements TokenIssuer {
  calls = 0;
  readonly #clock: TestClock;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #fail: (() => void) | undefined;

  constructor(clock: TestClock) {
    this.#clock = clock;
  }

  hold(): void {
    this.#gate = new Promise<void>((resolve, reject) => {
      this.#open = resolve;
      this.#fail = () => reject(new Error("upstream failed"));
    });
    // Rejections are observed by the callers that awaited the gate.
    this.#gate.catch(() => {});
  }

  release(): void {
    this.#open?.();
  }

  /** Fails the calls held now; calls made after it are held again, until release(). */
  failHeld(): void {
    const fail = this.#fail;
    this.hold();
    fail?.();
  }

  readonly issue = async (): Promise<IssuedToken> => {
    this.calls += 1;
    const n = this.calls;
    const issuedAtMs = this.#clock.now();
    await this.#gate;
    return {
      accessToken: `header.payload-${n}-${randomBytes(4).toString("hex")}.signature`,
      tokenType: "Bearer",
      issuedAtMs,
      expiresAtMs: issuedAtMs + 3_600_000,
      scopes: ["api.storage"],
      defaultStorage: null,
    };
  };
}

/** One request through the replica's real token service: margin 60 s, as a caller would see it. */
function obtain(
  replica: Replica,
  credential: Credential,
  upstream: Upstream,
  clock: TestClock,
  options: { forceRefresh?: boolean; minValiditySeconds?: number } = {},
): Promise<ServedToken> {
  let service = replica.services.get(upstream);
  if (service === undefined) {
    service = new TokenService({
      issuer: upstream,
      store: replica.store,
      gate: new CredentialGate({
        limiter: new MemoryAttemptLimiter(
          lockoutPolicy({
            threshold: 1000,
            windowSeconds: 60,
            baseSeconds: 1,
            maxSeconds: 1,
            guessesPerSecond: 1000,
          }),
          clock.now,
        ),
        verifiers: new MemoryVerifierStore({ ttlMs: 86_400_000, clock: clock.now, maxEntries: 1000 }),
      }),
      // These tests force refreshes back to back on purpose.
      forceRefreshMinIntervalMs: 0,
      policy: { margin: { minSeconds: 60, ratio: 0 }, ahead: { minSeconds: 0, ratio: 0 } },
      clock: clock.now,
      claimWaitMs: replica.lockTtlMs,
      onClaimWait: replica.onLockWait,
    });
    replica.services.set(upstream, service);
  }
  return service.issue(
    {
      credential,
      minValiditySeconds: options.minValiditySeconds ?? 0,
      forceRefresh: options.forceRefresh ?? false,
    },
    { addressKey: "test" },
  );
}

test("a token fetched on one replica is a cache hit on another; the entry is sealed and expires with it", async () => {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const credentials = newCredentials();
  const a = replicaCache(clock);
  const b = replicaCache(clock);
  const first = await obtain(a, credentials, upstream, clock);
  assert.equal(first.source, "upstream");
  const second = await obtain(b, credentials, upstream, clock);
  assert.equal(second.source, "cache");
  assert.deepEqual(second.token, first.token);
  assert.equal(upstream.calls, 1);

  const key = `${prefix}token:{${credentials.lookupKey}}`;
  const raw = await shared.redis.client.get(key);
  assert.ok(raw !== null);
  for (const clear of [first.token.accessToken, credentials.clientId, credentials.exposeSecret()]) {
    assert.equal(raw.includes(clear), false);
    assert.equal(Buffer.from(raw, "base64url").includes(Buffer.from(clear)), false);
  }
  const ttl = await shared.redis.client.pttl(key);
  assert.ok(ttl > 3_590_000 && ttl <= 3_600_000, `ttl ${ttl}`);
});

test("a forceRefresh on one replica reaches another once its local copy is not usable", async () => {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const credentials = newCredentials();
  const a = replicaCache(clock);
  const b = replicaCache(clock);
  const original = await obtain(a, credentials, upstream, clock);
  assert.equal((await obtain(b, credentials, upstream, clock)).source, "cache");

  clock.advance(600_000);
  const refreshed = await obtain(a, credentials, upstream, clock, { forceRefresh: true });
  assert.equal(refreshed.source, "upstream");
  assert.notEqual(refreshed.token.accessToken, original.token.accessToken);
  // B's local copy is still usable for an ordinary caller: served as is.
  assert.equal((await obtain(b, credentials, upstream, clock)).token.accessToken, original.token.accessToken);
  // A caller for whom it is not (it needs 55 minutes: only a token issued since the refresh has them)
  // gets A's from Redis.
  const picked = await obtain(b, credentials, upstream, clock, { minValiditySeconds: 3300 });
  assert.equal(picked.token.accessToken, refreshed.token.accessToken);
  assert.equal(picked.source, "joined");
  assert.equal(upstream.calls, 2);
});

async function sharedFetch(health: RedisHealth): Promise<void> {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const credentials = newCredentials();
  let waits = 0;
  const a = replicaCache(clock, { health, onLockWait: () => waits++ });
  const b = replicaCache(clock, { health, onLockWait: () => waits++ });
  upstream.hold();
  const results = Array.from({ length: 40 }, (_, i) =>
    obtain(i % 2 === 0 ? a : b, credentials, upstream, clock),
  );
  // One replica holds the lock and fetches; the other is polling for its entry.
  await eventually("one fetch and one waiting replica", () => upstream.calls === 1 && waits === 1);
  upstream.release();
  const settled = await Promise.all(results);
  assert.equal(upstream.calls, 1);
  assert.equal(new Set(settled.map((result) => result.token.accessToken)).size, 1);
  assert.equal(settled.filter((result) => result.source === "upstream").length, 1);
  assert.ok(settled.every((result) => result.source !== "cache"));
}

test("concurrent callers on two replicas share one upstream fetch", () => sharedFetch(shared.redis.health));

test("on a Redis Cluster too, concurrent callers on two replicas share one upstream fetch", () =>
  sharedFetch(shared.onCluster.health));

async function crashedHolder(health: RedisHealth): Promise<void> {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const credentials = newCredentials();
  let waited = false;
  const cache = replicaCache(clock, { health, lockTtlMs: 300, onLockWait: () => (waited = true) });
  // A holder that died right after taking the lock: nobody will release it.
  await health.client.set(`${prefix}token-lock:{${credentials.lookupKey}}`, "dead", "PX", 300);
  const result = await obtain(cache, credentials, upstream, clock);
  assert.equal(result.source, "upstream");
  assert.equal(waited, true);
  assert.equal(upstream.calls, 1);
}

test("a crashed holder's lock expires and another replica proceeds", () =>
  crashedHolder(shared.redis.health));

test("on a Redis Cluster too, a crashed holder's lock expires and another replica proceeds", () =>
  crashedHolder(shared.onCluster.health));

test("a holder whose fetch fails releases the lock, and a waiting replica fetches for itself", async () => {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const credentials = newCredentials();
  let waits = 0;
  const a = replicaCache(clock);
  const b = replicaCache(clock, { onLockWait: () => waits++ });
  upstream.hold();
  const failing = obtain(a, credentials, upstream, clock);
  await eventually("A fetching", () => upstream.calls === 1);
  const waiting = obtain(b, credentials, upstream, clock);
  await eventually("B waiting", () => waits === 1);
  upstream.failHeld();
  await assert.rejects(failing, /upstream failed/);
  // B may already be calling by now (A released the lock as its fetch failed): only A's call failed.
  upstream.release();
  const result = await waiting;
  assert.equal(result.source, "upstream");
  assert.equal(upstream.calls, 2);
});

test("an entry under another lookup key, or for other credentials, is a miss, not an error", async () => {
  const clock = new TestClock();
  const upstream = new Upstream(clock);
  const victim = newCredentials();
  const other = newCredentials();
  const a = replicaCache(clock);
  await obtain(a, victim, upstream, clock);
  // Someone with write access copies the victim's entry under the other caller's key.
  const sealed = await shared.redis.client.get(`${prefix}token:{${victim.lookupKey}}`);
  assert.ok(sealed !== null);
  await shared.redis.client.set(`${prefix}token:{${other.lookupKey}}`, sealed, "PX", 60_000);
  const result = await obtain(replicaCache(clock), other, upstream, clock);
  assert.equal(result.source, "upstream");
  assert.equal(upstream.calls, 2);
});

test("with Redis unreachable, concurrent callers still share one fetch and the local tier serves hits", async () => {
  const dead = await connectHealth(`redis://127.0.0.1:${await freePort()}`, { waitUp: false });
  try {
    const clock = new TestClock();
    const upstream = new Upstream(clock);
    const credentials = newCredentials();
    const cache = replicaCache(clock, { health: dead.health });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => obtain(cache, credentials, upstream, clock)),
    );
    assert.equal(upstream.calls, 1);
    assert.equal(results.filter((result) => result.source === "upstream").length, 1);
    assert.equal((await obtain(cache, credentials, upstream, clock)).source, "cache");
    assert.equal(cache.store.size(), 1);
  } finally {
    await dead.close();
  }
});

test("a hung Redis costs one deadline, then nothing is sent until a probe finds it answering", async () => {
  const server = await ThrowawayRedis.start();
  const hung = await connectHealth(server.url);
  try {
    const clock = new TestClock();
    const upstream = new Upstream(clock);
    const credentials = newCredentials();
    const cache = replicaCache(clock, { health: hung.health });
    const traced = traceCommands(server.port);
    server.freeze();
    const result = await obtain(cache, credentials, upstream, clock);
    // One command deadline; from then on nothing is sent (local state answers) until a PING answers
    // again; once failures have lasted the trip window (1 s) it is an outage.
    assert.equal(result.source, "upstream");
    assert.equal(hung.health.readiness().redis, "degraded");
    assert.equal((await obtain(cache, credentials, upstream, clock)).source, "cache");
    traced.stop();
    const commands = requestCommands(traced.commands);
    assert.deepEqual(
      commands.map((command) => command.ended?.error),
      commands.map(() => "DeadlineExceeded"),
      "the command that got no reply ended at its deadline",
    );
    assert.deepEqual(writtenAfterFirstDeadline(commands), [], "nothing sent after it");
    await eventually("the outage to be declared", () => !hung.health.up());
    server.thaw();
    await eventually("the probe to find Redis answering", () => hung.health.up());
    assert.equal(upstream.calls, 1);
  } finally {
    server.thaw();
    await hung.close();
    await server.kill();
  }
});
