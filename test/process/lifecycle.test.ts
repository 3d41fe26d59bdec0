/**
 * The service as a real child process: start-up, probes, default process metrics, graceful shutdown
 * on SIGTERM (drain, refuse, finish, exit 0), the shutdown deadline against a hung upstream (a coded
 * 503 for the waiting request, exit 1), and
 * start-up failures on a bad environment. Readiness and progress are read from the JSON log lines.
 */
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { test } from "node:test";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { connectOnce } from "../../dev/ports.js";
import { postOperation } from "../support/graphql-client.js";
import { ACCESS_TOKEN_MUTATION, CLIENT_ID, CLIENT_SECRET } from "../support/harness.js";
import {
  type LogLine,
  runToExit,
  type ServiceProcess,
  serviceEnv,
  startFake,
  startService,
} from "../support/process.js";

const STOPPED_ACCEPTING = "Stopped accepting connections; draining in-flight requests";
const DEADLINE_REACHED = "Shutdown deadline reached: closing remaining connections";
// A broken shutdown shows up as a process that never exits: fail instead of hanging the suite.
const PROCESS_TEST = { timeout: 30_000 };
// Process teardown after the deadline (Apollo stop, log flush, exit) on a loaded CI machine.
const EXIT_SLACK_MS = 5000;

function tokenRequest(origin: string): Promise<Response> {
  return postOperation(
    `${origin}/graphql`,
    ACCESS_TOKEN_MUTATION,
    { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    { "x-request-id": "in-flight-1" },
  );
}

/** True when `token` is an RS256 JWT signed by this fake: the token came back byte for byte. */
function signedBy(fake: FakeAspose, token: string): boolean {
  const [header, payload, signature] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined) return false;
  return verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    fake.publicKey,
    Buffer.from(signature, "base64url"),
  );
}

function messages(service: ServiceProcess): string[] {
  return service.logs.map((line) => String(line.msg));
}

function assertNoSecretsIn(service: ServiceProcess, secrets: readonly string[]): void {
  const output = `${JSON.stringify(service.logs)}\n${service.strayStdout.join("\n")}\n${service.stderr()}`;
  for (const secret of secrets) assert.ok(!output.includes(secret), "a secret reached the process output");
}

test(
  "the real process logs its port, serves probes and default process metrics, and drains on SIGTERM",
  PROCESS_TEST,
  async (t) => {
    const fake = await startFake(t);
    const service = await startService(serviceEnv(fake, { SHUTDOWN_TIMEOUT_MS: "10000" }));
    t.after(() => service.kill());

    const healthz = await fetch(`${service.origin}/healthz`);
    assert.equal(healthz.status, 200);
    const readyz = await fetch(`${service.origin}/readyz`);
    assert.equal(readyz.status, 200);
    assert.deepEqual(await readyz.json(), { status: "ready", upstream: "closed" });
    const metrics = await (await fetch(`${service.origin}/metrics`)).text();
    // main.ts turns prom-client's default process metrics on.
    assert.match(metrics, /^process_cpu_user_seconds_total \d/m);
    assert.match(metrics, /^nodejs_eventloop_lag_seconds \d/m);
    assert.match(metrics, /^# TYPE graphql_requests_total counter$/m);

    const release = fake.hold();
    const inFlight = tokenRequest(service.origin);
    await fake.waitForRequests(1);

    const signalledAt = performance.now();
    service.child.kill("SIGTERM");
    await service.waitForLog((line) => line.msg === STOPPED_ACCEPTING, "the stopped-accepting line");
    await assert.rejects(connectOnce(service.port), { code: "ECONNREFUSED" });

    release();
    const response = await inFlight;
    assert.equal(response.status, 200);
    const body = (await response.json()) as { data?: { accessToken?: { accessToken?: string } } };
    const token = body.data?.accessToken?.accessToken ?? "";
    assert.ok(signedBy(fake, token), "the in-flight request got the token Aspose issued");
    assert.equal(response.headers.get("connection"), "close");

    const exit = await service.exited;
    assert.deepEqual([exit.code, exit.signal], [0, null]);
    assert.ok(exit.at - signalledAt < 10_000, "exited within SHUTDOWN_TIMEOUT_MS");
    const logged = messages(service);
    assert.ok(logged.includes("Shut down cleanly"));
    assert.ok(!logged.includes(DEADLINE_REACHED), "drained without needing the deadline");
    const inFlightLine = service.logs.find(
      (line: LogLine) => line.msg === "request" && line.requestId === "in-flight-1",
    );
    assert.equal(inFlightLine?.outcome, "ok");
    assert.deepEqual(service.strayStdout, []);
    assertNoSecretsIn(service, [CLIENT_SECRET, token]);
  },
);

test(
  "SIGTERM with a hung upstream: the waiting request gets a coded 503 at the deadline, and the process exits 1",
  PROCESS_TEST,
  async (t) => {
    const fake = await startFake(t);
    fake.setFault({ kind: "hang" });
    const deadlineMs = 1000;
    const service = await startService(serviceEnv(fake, { SHUTDOWN_TIMEOUT_MS: String(deadlineMs) }));
    t.after(() => service.kill());

    const inFlight = tokenRequest(service.origin).then(
      async (response) => ({ response, body: await response.text(), at: performance.now() }),
      (error: unknown) => ({ error, at: performance.now() }),
    );
    await fake.waitForRequests(1);
    const signalledAt = performance.now();
    service.child.kill("SIGTERM");

    const ended = await inFlight;
    if (!("response" in ended)) assert.fail(`the request was cut without an answer: ${String(ended.error)}`);
    assert.equal(ended.response.status, 503);
    assert.equal(ended.response.headers.get("connection"), "close");
    const body = JSON.parse(ended.body) as { errors?: { extensions?: { code?: string } }[] };
    assert.equal(body.errors?.[0]?.extensions?.code, "SHUTTING_DOWN");
    // Answered at the deadline, not at once: the request had its SHUTDOWN_TIMEOUT_MS to finish.
    assert.ok(
      ended.at - signalledAt >= deadlineMs - 5,
      `answered ${Math.round(ended.at - signalledAt)} ms after SIGTERM`,
    );
    const exit = await service.exited;
    // A request was cut short: not a clean shutdown.
    assert.deepEqual([exit.code, exit.signal], [1, null]);
    // The upstream would hold the request for 60 s: only the deadline explains an exit this early.
    assert.ok(
      exit.at - signalledAt < deadlineMs + EXIT_SLACK_MS,
      `exited ${Math.round(exit.at - signalledAt)} ms after SIGTERM`,
    );
    assert.ok(messages(service).includes(DEADLINE_REACHED));
    const line = service.logs.find(
      (entry: LogLine) => entry.msg === "request" && entry.requestId === "in-flight-1",
    );
    assert.equal(line?.outcome, "SHUTTING_DOWN");
  },
);

test("a bad PORT stops start-up with a non-zero exit and a message naming PORT", PROCESS_TEST, async () => {
  const run = await runToExit({ NODE_ENV: "production", PORT: "abc" });
  assert.notEqual(run.exit.code, 0);
  assert.equal(run.exit.code, 78);
  assert.match(run.stderr(), /Invalid configuration: PORT must be/);
  assert.ok(!run.logs.some((line) => typeof line.port === "number"), "it never became ready");
});

test("a bad REDIS_URL is named without echoing the password it holds", PROCESS_TEST, async () => {
  const run = await runToExit({ NODE_ENV: "production", REDIS_URL: "redis://:hunter2@x:bad" });
  assert.equal(run.exit.code, 78);
  assert.match(run.stderr(), /REDIS_URL/);
  assert.ok(!run.stderr().includes("hunter2"));
  assert.ok(!JSON.stringify(run.logs).includes("hunter2"));
});

test(
  "APOLLO_KEY without APOLLO_GRAPH_REF stops start-up naming APOLLO_GRAPH_REF, not the key",
  PROCESS_TEST,
  async () => {
    const key = "service:aspose-token:k3y-v4lue-that-must-not-print";
    const run = await runToExit({ NODE_ENV: "production", APOLLO_KEY: key });
    assert.equal(run.exit.code, 78);
    assert.match(run.stderr(), /APOLLO_GRAPH_REF/);
    assert.ok(!run.stderr().includes("k3y-v4lue"));
    assert.ok(!JSON.stringify(run.logs).includes("k3y-v4lue"));
  },
);
