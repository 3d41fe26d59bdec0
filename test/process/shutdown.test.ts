/**
 * Issue 12 point 5: shutdown always ends. With stdout's reader gone (`| head -1`, a dead collector),
 * SIGTERM still ends the process within SHUTDOWN_TIMEOUT_MS plus the grace, with exit code 1 since log
 * lines were cut; a second SIGTERM ends a draining process at once. Exits are observed on the child
 * process itself: its stdout is broken on purpose, so it never reaches its end.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { SHUTDOWN_GRACE_MS } from "../../src/config/server.js";
import { ACCESS_TOKEN_MUTATION, CLIENT_ID, CLIENT_SECRET } from "../support/harness.js";
import { type ReadyService, serviceEnv, startFake, startService } from "../support/process.js";

const PROCESS_TEST = { timeout: 30_000 };
const DEADLINE_MS = 1000;
// What shutdown may take past its deadline (main.ts's hard limit), plus process teardown on a loaded machine.
const GRACE_MS = SHUTDOWN_GRACE_MS;
const SLACK_MS = 3000;

interface Ended {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly afterMs: number;
}

/** Resolves when the child exits, timed from `from`; SIGKILLs it after the test if it has not. */
function exitOf(t: { after: (fn: () => void) => void }, service: ReadyService): () => Promise<Ended> {
  const { child } = service;
  const exited = once(child, "exit") as Promise<[number | null, NodeJS.Signals | null]>;
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return async () => {
    const from = performance.now();
    const [code, signal] = await exited;
    return { code, signal, afterMs: performance.now() - from };
  };
}

/** `n` requests, one after another: each writes one log line. */
async function someRequests(service: ReadyService, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await (await fetch(`${service.origin}/healthz`)).arrayBuffer();
}

test("with stdout's reader gone, SIGTERM ends the process in time, exit code 1", PROCESS_TEST, async (t) => {
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, { SHUTDOWN_TIMEOUT_MS: String(DEADLINE_MS) }));
  const ended = exitOf(t, service);
  service.child.stdout?.destroy();
  await someRequests(service, 20);

  service.child.kill("SIGTERM");
  const exit = await ended();
  assert.equal(exit.signal, null, "it exited by itself");
  assert.equal(exit.code, 1, "log lines were cut");
  assert.ok(
    exit.afterMs < DEADLINE_MS + GRACE_MS + SLACK_MS,
    `exited ${Math.round(exit.afterMs)} ms after SIGTERM`,
  );
});

test("a second SIGTERM ends a draining process at once, exit code 1", PROCESS_TEST, async (t) => {
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, { SHUTDOWN_TIMEOUT_MS: "60000" }));
  const ended = exitOf(t, service);
  const release = fake.hold();
  t.after(release);
  const inFlight = fetch(`${service.origin}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      query: ACCESS_TOKEN_MUTATION,
      variables: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    }),
  }).catch(() => undefined);
  await fake.waitForRequests(1);

  service.child.kill("SIGTERM");
  await service.waitForLog((line) => line.msg === "Shutting down: finishing in-flight requests", "draining");
  service.child.kill("SIGTERM");
  const exit = await ended();
  await inFlight;
  assert.equal(exit.signal, null, "it exited by itself");
  assert.equal(exit.code, 1);
  // The upstream holds the request and the deadline is a minute away: only the second signal explains this.
  assert.ok(
    exit.afterMs < GRACE_MS + SLACK_MS,
    `exited ${Math.round(exit.afterMs)} ms after the second SIGTERM`,
  );
});
