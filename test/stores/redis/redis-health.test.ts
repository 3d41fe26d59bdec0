/**
 * RedisHealth on a throwaway server: what /readyz says about the shared store once Redis comes back.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { traceCommands } from "../../support/redis-commands.js";
import { connectHealth, eventually, ThrowawayRedis } from "../../support/replicas.js";

test("an operation that failed for reachability is clear once the connection is back, though nobody has retried it", async (t) => {
  const server = await ThrowawayRedis.start();
  t.after(() => server.kill());
  const shared = await connectHealth(server.url);
  t.after(() => shared.close());
  const { health } = shared;

  // A verifier read meets a frozen Redis, then the server dies and comes back on a new connection (a
  // Sentinel failover looks so to the client).
  const traced = traceCommands(server.port);
  t.after(() => traced.stop());
  server.freeze();
  const step = await health.attempt("verifier", (send) => send("get", ["absent"]));
  assert.equal(step.ok, false);
  assert.equal(health.readiness().redisDegraded, "verifier:timeout");
  await server.kill();
  await eventually("the outage to be seen", () => !health.up());
  // The health watch's PING, sent to the frozen server, has ended too: the way back is the new
  // connection, not a late answer to it.
  await eventually("every command sent to the frozen server to end", () =>
    traced.commands.every((command) => command.ended !== undefined),
  );
  await server.resume();
  await eventually("Redis to be back", () => health.up());

  assert.deepEqual(health.readiness(), { redis: "up", redisTopology: "standalone" });
});
