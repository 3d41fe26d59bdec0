/**
 * Where the real process writes its audit lines (AUDIT_LOG): stdout by default, beside the service log
 * and told apart by `"log":"audit"`; a file of their own, appended and written out at exit; nothing
 * with `off`; and a file that cannot be opened stops start-up.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { postOperation } from "../support/graphql-client.js";
import { ACCESS_TOKEN_MUTATION, CLIENT_ID, CLIENT_SECRET } from "../support/harness.js";
import { runToExit, serviceEnv, startFake, startService } from "../support/process.js";

const PROCESS_TEST = { timeout: 30_000 };
const AUDIT_KEY = Buffer.alloc(32, 7).toString("base64");

async function askToken(origin: string, requestId: string): Promise<void> {
  const response = await postOperation(
    `${origin}/graphql`,
    ACCESS_TOKEN_MUTATION,
    { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    { "x-request-id": requestId },
  );
  assert.equal(response.status, 200);
  await response.text();
}

test(
  "by default audit lines go to stdout, beside the service log, marked log=audit",
  PROCESS_TEST,
  async (t) => {
    const fake = await startFake(t);
    const service = await startService(serviceEnv(fake, { AUDIT_KEY }));
    t.after(() => service.kill());
    await askToken(service.origin, "stdout-1");
    const line = await service.waitForLog((entry) => entry.requestId === "stdout-1", "the audit line");
    assert.equal(line.log, "audit");
    assert.equal(line.outcome, "issued");
    assert.equal(line.level, 30);
    assert.equal((await service.stop()).code, 0);
  },
);

test("AUDIT_LOG=<file> appends them to the file, mode 0600, and none to stdout", PROCESS_TEST, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "aspose-token-subgraph-audit-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "audit.jsonl");
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, { AUDIT_KEY, AUDIT_LOG: file }));
  t.after(() => service.kill());
  await askToken(service.origin, "file-1");
  await askToken(service.origin, "file-2");
  // The access-log line of the second request: both audit lines were written before it.
  await service.waitForLog((entry) => entry.requestId === "file-2" && entry.msg === "request", "access log");
  // Stopped by SIGTERM: the buffered lines are written out before exit.
  assert.equal((await service.stop()).code, 0);
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((line) => [line.requestId, line.outcome, line.log]),
    [
      ["file-1", "issued", "audit"],
      ["file-2", "served", "audit"],
    ],
  );
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(!service.logs.some((entry) => entry.log === "audit"));
});

test("AUDIT_LOG=stderr writes them to stderr, apart from the service log", PROCESS_TEST, async (t) => {
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, { AUDIT_KEY, AUDIT_LOG: "stderr" }));
  t.after(() => service.kill());
  await askToken(service.origin, "stderr-1");
  await service.waitForLog(
    (entry) => entry.requestId === "stderr-1" && entry.msg === "request",
    "access log",
  );
  assert.equal((await service.stop()).code, 0);
  const lines = service
    .stderr()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  assert.deepEqual(
    lines.map((line) => [line.requestId, line.outcome, line.log]),
    [["stderr-1", "issued", "audit"]],
  );
  assert.ok(!service.logs.some((entry) => entry.log === "audit"));
});

test("AUDIT_LOG=off writes no audit line to stdout", PROCESS_TEST, async (t) => {
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, { AUDIT_LOG: "off" }));
  t.after(() => service.kill());
  await askToken(service.origin, "off-1");
  await service.waitForLog((entry) => entry.requestId === "off-1" && entry.msg === "request", "access log");
  assert.equal((await service.stop()).code, 0);
  assert.ok(!service.logs.some((entry) => entry.log === "audit"));
});

test("an audit file that cannot be opened stops start-up, naming AUDIT_LOG", PROCESS_TEST, async () => {
  const result = await runToExit({ AUDIT_LOG: "/nonexistent-dir/audit.jsonl" });
  assert.equal(result.exit.code, 78);
  assert.match(result.stderr(), /AUDIT_LOG/);
});
