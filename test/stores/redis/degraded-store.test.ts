/**
 * A Redis that answers but cannot be relied on, each a throwaway server: an ACL user without
 * +@scripting (and without INFO), a full Redis under noeviction, a frozen Redis (SIGSTOP), and a
 * replica that dies while it holds the fetch lock. Lockouts are enforced locally at least as strictly,
 * no request is refused or held for the store's sake, /readyz and the metric say why, and the logs
 * stay readable.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { test } from "node:test";
import { Redis } from "ioredis";
import { FakeAspose } from "../../../dev/fake-aspose.js";
import { harnessFor, request, requestToken, served } from "../../support/harness.js";
import { requestCommands, traceCommands, writtenAfterFirstDeadline } from "../../support/redis-commands.js";
import {
  eventually,
  metricValue,
  outcomeOf,
  Replica,
  readiness,
  requestTokenFrom,
  scanKeys,
  sharingEnv,
  ThrowawayRedis,
} from "../../support/replicas.js";

const THRESHOLD = 5;
// max(3 s, 6 × REDIS_TIMEOUT_MS) with the default 250 ms.
const LEASE_MS = 3_000;

function fresh(label: string): { clientId: string; clientSecret: string } {
  return { clientId: `${label}-${randomBytes(6).toString("hex")}`, clientSecret: `secret-${label}-0001` };
}

test("an ACL user without +@scripting or INFO: lockouts still hold, /readyz and the metric say why, no ioredis noise", async (t) => {
  const server = await ThrowawayRedis.start({
    args: ["--user", "svc", "on", ">svc-pass-0001", "~*", "&*", "+@all", "-@scripting", "-info"],
  });
  t.after(() => server.kill());
  const fake = await FakeAspose.start();
  t.after(() => fake.close());
  const target = fresh("acl");
  fake.addClient(target.clientId, target.clientSecret);
  const replica = await Replica.start("acl", {
    ASPOSE_BASE_URL: fake.url,
    REDIS_URL: `redis://svc:svc-pass-0001@127.0.0.1:${server.port}`,
    ...sharingEnv("acl"),
    LOCKOUT_THRESHOLD: String(THRESHOLD),
  });
  t.after(() => replica.stop());
  const ready = await eventually("/readyz to name the refused scripts", async () => {
    const answer = await readiness(replica);
    return String(answer.body.redisDegraded ?? "").includes("limiter:noperm") ? answer : undefined;
  });
  assert.equal(ready.status, 200, "still ready: it serves from local state");
  assert.equal(ready.body.redis, "degraded");
  assert.equal(await metricValue(replica, 'shared_store_degraded{scope="limiter",cause="noperm"}'), 1);
  const outcomes: string[] = [];
  for (let i = 0; i < 8; i++)
    outcomes.push(outcomeOf(await requestTokenFrom(replica, { ...target, clientSecret: `wrong-${i}` })));
  assert.equal(
    fake.countFor(target.clientId),
    THRESHOLD,
    `upstream saw ${fake.countFor(target.clientId)} of 8`,
  );
  assert.equal(outcomes.filter((outcome) => outcome === "TOO_MANY_ATTEMPTS").length, 8 - THRESHOLD);
  await replica.stop();
  const stderr = replica.logs.filter((line) => !line.startsWith("{"));
  assert.deepEqual(
    stderr.filter((line) => /ioredis|ready check/i.test(line)),
    [],
    "ioredis wrote nothing of its own",
  );
});

test("a full Redis under noeviction: tokens still issued, one log line per cause and interval, no stacks", async (t) => {
  const server = await ThrowawayRedis.start({
    args: ["--maxmemory", "2mb", "--maxmemory-policy", "noeviction"],
  });
  t.after(() => server.kill());
  const filler = new Redis(server.port, "127.0.0.1");
  t.after(() => filler.disconnect());
  const blob = "x".repeat(64 * 1024);
  for (let i = 0; ; i++) {
    const full = await filler.set(`filler:${i}`, blob).then(
      () => false,
      (error: Error) => error.message.startsWith("OOM"),
    );
    if (full) break;
  }
  const harness = await harnessFor(t, {
    env: {
      REDIS_URL: server.url,
      ...sharingEnv("full"),
      LOG_LEVEL: "info",
      // 300 new credentials, ten at a time: a budget sized for that many first exchanges at once.
      UPSTREAM_GUESS_BUDGET_PER_SECOND: "20",
    },
  });
  await eventually("the replica to reach Redis", () => harness.app.stores.readiness().redis !== "down");
  const credentials = Array.from({ length: 300 }, () => fresh("full"));
  for (const credential of credentials) harness.fake.addClient(credential.clientId, credential.clientSecret);
  // Ten at a time: more from one address at once would meet its attempts-in-flight budget.
  for (let i = 0; i < credentials.length; i += 10)
    await Promise.all(
      credentials.slice(i, i + 10).map(async (credential) => served(await requestToken(harness, credential))),
    );
  const endedAt = Date.now();
  const redisLines = harness.logs.filter((line) => line.includes('"component":"redis"'));
  const refusals = redisLines
    .filter((line) => line.includes("refused"))
    .map((line) => JSON.parse(line) as RefusalLine);
  const fallbacks = (await request(harness, "/metrics")).text
    .split("\n")
    .filter((line) => line.startsWith("shared_store_fallbacks_total{"))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0);
  process.stdout.write(
    `# full Redis: ${redisLines.length} redis log lines for 300 new credentials, ${fallbacks} operations answered locally\n`,
  );
  assert.ok(
    refusals.some((line) => line.cause === "oom"),
    "the refusal is logged with its cause",
  );
  assert.ok(
    redisLines.every((line) => !line.includes('"stack"')),
    "no stack for a known refusal",
  );
  // One line per cause when it starts, then at most one per interval with a count. How many intervals
  // the flood spans depends on the machine, so the bound is counted in the log's own intervals.
  for (const [cause, lines] of Map.groupBy(refusals, (line) => `${line.operation}:${line.cause}`)) {
    const [first, ...summaries] = lines;
    assert.ok(first !== undefined && first.repeated === undefined, `${cause}: the first line stands alone`);
    const intervalMs = (summaries[0]?.intervalSeconds ?? 5) * 1000;
    const intervals = Math.floor((endedAt - first.time) / intervalMs) + 1;
    assert.ok(summaries.length <= intervals, `${cause}: ${lines.length} lines in ${intervals} intervals`);
    assert.ok(summaries.every((line) => (line.repeated ?? 0) >= 1));
  }
  assert.ok(fallbacks > 10 * refusals.length, `${refusals.length} lines for ${fallbacks} refused operations`);
  const ready = await readiness(harness);
  assert.match(String(ready.body.redisDegraded), /token_write:oom/);
});

interface RefusalLine {
  readonly time: number;
  readonly operation: string;
  readonly cause: string;
  readonly repeated?: number;
  readonly intervalSeconds?: number;
}

test("a frozen Redis (SIGSTOP): each request waits out one REDIS_TIMEOUT_MS deadline at most, then local state answers", async (t) => {
  const server = await ThrowawayRedis.start();
  t.after(async () => {
    server.thaw();
    await server.kill();
  });
  const timeoutMs = 250;
  const harness = await harnessFor(t, {
    env: {
      REDIS_URL: server.url,
      ...sharingEnv("frozen"),
      REDIS_TIMEOUT_MS: String(timeoutMs),
    },
  });
  await eventually("the replica to reach Redis", () => harness.app.stores.readiness().redis === "up");
  served(await requestToken(harness));
  const traced = traceCommands(server.port);
  t.after(() => traced.stop());
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  server.freeze();
  const latencies: number[] = [];
  for (let round = 0; round < 5; round++) {
    const credentials = Array.from({ length: 4 }, () => fresh("frozen"));
    for (const credential of credentials)
      harness.fake.addClient(credential.clientId, credential.clientSecret);
    await Promise.all(
      credentials.map(async (credential) => {
        const started = performance.now();
        served(await requestToken(harness, credential));
        latencies.push(performance.now() - started);
      }),
    );
  }
  const commands = requestCommands(traced.commands);
  await eventually("every command written to the frozen Redis to end", () =>
    commands.every((command) => command.ended !== undefined),
  );
  lag.disable();
  process.stdout.write(
    `# frozen Redis, REDIS_TIMEOUT_MS=${timeoutMs}: ${commands.length} commands written, slowest request ${Math.round(Math.max(...latencies))} ms, event loop delay up to ${Math.round(lag.max / 1e6)} ms\n`,
  );
  // Wall-clock figures are printed, not asserted: on a loaded machine a request takes as long as the
  // machine makes it. What bounds the wait on Redis is asserted instead: every command ends at its own
  // deadline, the REDIS_TIMEOUT_MS timer (a DeadlineExceeded, not ioredis's later backstop, not a
  // reply that never comes), and once one has, nothing more is written until a PING answers, so no
  // request waits out a second deadline.
  assert.ok(commands.length > 0, "requests tried Redis before it was found frozen");
  assert.deepEqual(
    commands.map((command) => command.ended?.error),
    commands.map(() => "DeadlineExceeded"),
    "every command ended at its deadline",
  );
  assert.deepEqual(
    writtenAfterFirstDeadline(commands),
    [],
    "nothing written after the first deadline passed",
  );
  server.thaw();
  await eventually("sharing to resume", () => harness.app.stores.readiness().redis === "up");
});

test("a replica that dies holding the fetch lock frees it within its lease: the others do not wait out the fetch", async (t) => {
  const server = await ThrowawayRedis.start();
  t.after(() => server.kill());
  const fake = await FakeAspose.start();
  t.after(() => fake.close());
  const credential = fresh("dying");
  fake.addClient(credential.clientId, credential.clientSecret);
  const env = {
    ASPOSE_BASE_URL: fake.url,
    REDIS_URL: server.url,
    ...sharingEnv("dying"),
    REDIS_TIMEOUT_MS: "250",
    // A whole fetch may take this long, so a lock held for it would be held ~62 s.
    ASPOSE_TIMEOUT_MS: "60000",
    ASPOSE_TOTAL_TIMEOUT_MS: "60000",
  };
  const [dying, survivor] = await Promise.all([Replica.start("dying", env), Replica.start("survivor", env)]);
  t.after(() => survivor.stop());
  for (const replica of [dying, survivor])
    await eventually(
      `${replica.name} to reach Redis`,
      async () => (await readiness(replica)).body.redis === "up",
    );
  const release = fake.hold();
  const held = requestTokenFrom(dying, credential).catch(() => undefined);
  await fake.waitForRequests(1);
  // The holder's lock is a lease, however long the fetch may take: once the holder is gone nobody
  // renews it, so it is free within this long.
  const redis = new Redis(server.port, "127.0.0.1");
  t.after(() => redis.disconnect());
  const [lock] = (await scanKeys(redis, env.REDIS_KEY_PREFIX)).filter((key) => key.includes("token-lock:"));
  assert.ok(lock !== undefined, "the holder took the fetch lock");
  const leftMs = await redis.pttl(lock);
  assert.ok(leftMs > 0 && leftMs <= LEASE_MS, `the lock has ${leftMs} ms left`);
  await dying.stop(0);
  await held;
  release();
  const started = performance.now();
  const answer = await requestTokenFrom(survivor, credential);
  const waitedMs = performance.now() - started;
  process.stdout.write(
    `# holder killed mid-fetch: the other replica answered in ${Math.round(waitedMs)} ms\n`,
  );
  assert.equal(outcomeOf(answer), "ok");
});
