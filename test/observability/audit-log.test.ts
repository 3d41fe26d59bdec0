/**
 * The audit trail through the real service over real HTTP, with the real GraphQL client and the fake
 * Aspose: one line per outcome, with who (the clientId's HMAC), when, from where (the address the edge
 * computed) and the request id; the identifier `npm run -s audit:id` prints is the one logged; the
 * clientId in clear only on request and only for accepted credentials; nothing when off; and no
 * secret or token in any byte of either log.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { GraphQLClient } from "graphql-request";
import { REPO_ROOT } from "../../dev/spawn.js";
import { executeOperation } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  type AuditRecord,
  answeredTokens,
  CLIENT_ID,
  CLIENT_SECRET,
  type ExecuteResult,
  type Harness,
  harnessFor,
  leakedSecrets,
  tokensInLogs,
} from "../support/harness.js";

const AUDIT_KEY = Buffer.alloc(32, 7).toString("base64");
const CACHE_KEY = Buffer.alloc(32, 9).toString("base64");
const WRONG_SECRET = "00000000000000000000000000000000";
// Clients of their own, so that each outcome is independent of the others' state.
const LOCKED_ID = "a0c1d2e3-0000-4000-8000-00000000000a";
const RATE_ID = "a0c1d2e3-0000-4000-8000-00000000000b";
const FAILING_ID = "a0c1d2e3-0000-4000-8000-00000000000c";
const OTHER_SECRET = "1f2e3d4c5b6a79881f2e3d4c5b6a7988";
const LIFETIME_S = 3600;

const run = promisify(execFile);

/** The accessToken mutation from a client of its own, with a request id and any other headers. */
async function ask(
  harness: Harness,
  requestId: string,
  variables: { clientId?: string; clientSecret?: string; forceRefresh?: boolean } = {},
  headers: Record<string, string> = {},
): Promise<ExecuteResult<{ accessToken: AccessTokenFields }>> {
  const client = new GraphQLClient(harness.url, { headers: { "x-request-id": requestId, ...headers } });
  const { body, ...result } = await executeOperation<{ accessToken: AccessTokenFields }>(
    client,
    ACCESS_TOKEN_MUTATION,
    { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, ...variables },
  );
  harness.responses.push(body);
  return result;
}

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

/** The audit lines of one request, parsed. */
function linesOf(harness: Harness, requestId: string): AuditRecord[] {
  return harness.auditLogs
    .map((line) => JSON.parse(line) as AuditRecord)
    .filter((line) => line.requestId === requestId);
}

/** The one audit line of a request, checked for the fields every line has. */
function onlyLineOf(harness: Harness, requestId: string): AuditRecord {
  const lines = linesOf(harness, requestId);
  assert.equal(lines.length, 1, `audit lines of ${requestId}: ${JSON.stringify(lines)}`);
  const [line] = lines;
  assert.ok(line !== undefined);
  assertCommonFields(line);
  return line;
}

function assertCommonFields(line: AuditRecord): void {
  assert.equal(line.log, "audit");
  assert.equal(line.level, 30);
  assert.equal(typeof line.time, "number");
  assert.match(String(line.clientIdHmac), /^hmac-sha256:[0-9a-f]{64}$/);
  assert.equal(line.clientAddress, "127.0.0.1");
}

/** `npm run -s audit:id -- <ids>` in a copy of the project whose .env holds `dotEnv`. */
async function auditId(
  t: { after: (fn: () => void) => void },
  clientIds: readonly string[],
  dotEnv: string,
  env: Record<string, string> = {},
): Promise<{ stdout: string; stderr: string; code: number }> {
  const dir = mkdtempSync(join(tmpdir(), "aspose-token-subgraph-audit-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ["package.json", ".npmrc"]) copyFileSync(join(REPO_ROOT, file), join(dir, file));
  for (const entry of ["node_modules", "scripts", "src", "tsconfig.json"])
    symlinkSync(join(REPO_ROOT, entry), join(dir, entry));
  writeFileSync(join(dir, ".env"), dotEnv);
  const childEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? dir, ...env };
  try {
    const { stdout, stderr } = await run("npm", ["run", "-s", "audit:id", "--", ...clientIds], {
      cwd: dir,
      env: childEnv,
    });
    return { stdout, stderr, code: 0 };
  } catch (error) {
    const failed = error as { stdout: string; stderr: string; code: number }; // execFile's rejection
    return { stdout: failed.stdout, stderr: failed.stderr, code: failed.code };
  }
}

test("one audit line per outcome, each with its request id, address, outcome, source and code", {
  timeout: 30_000,
}, async (t) => {
  const harness = await harnessFor(t, {
    env: {
      AUDIT_KEY,
      LOCKOUT_THRESHOLD: "2",
      ASPOSE_BREAKER_THRESHOLD: "1000",
      FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0",
    },
    fake: { lifetimeSeconds: LIFETIME_S },
  });
  const { fake, clock } = harness;
  for (const id of [LOCKED_ID, RATE_ID, FAILING_ID]) fake.addClient(id, OTHER_SECRET);

  // Issued: fetched from Aspose for this request.
  assert.equal((await ask(harness, "issued-1")).errors, undefined);
  const issued = onlyLineOf(harness, "issued-1");
  assert.equal(issued.outcome, "issued");
  assert.equal(issued.source, "upstream");
  assert.equal(issued.clientId, undefined, "the clientId is not in clear by default");
  assert.equal(issued.code, undefined);

  // Served from the cache: the same identifier.
  assert.equal((await ask(harness, "served-1")).data?.accessToken.fromCache, true);
  const served = onlyLineOf(harness, "served-1");
  assert.deepEqual([served.outcome, served.source], ["served", "cache"]);
  assert.equal(served.clientIdHmac, issued.clientIdHmac);

  // Inside the refresh-ahead window: served from the cache, and replaced in the background; the
  // refresh's line names the request that started it.
  clock.advance((LIFETIME_S - 600) * 1000);
  assert.equal((await ask(harness, "ahead-1")).data?.accessToken.fromCache, true);
  const refreshed = await harness.auditLine(
    (line) => line.requestId === "ahead-1" && line.outcome === "refreshed",
  );
  assertCommonFields(refreshed);
  assert.equal(refreshed.source, "refresh-ahead");
  assert.equal(refreshed.clientIdHmac, issued.clientIdHmac);
  assert.equal(fake.countFor(CLIENT_ID), 2);

  // Inside the hard margin with Aspose down: the cached token, stale.
  clock.advance((LIFETIME_S - 200) * 1000);
  fake.failNext({ kind: "status", status: 503 }, 3);
  assert.equal((await ask(harness, "stale-1")).data?.accessToken.stale, true);
  assert.deepEqual(
    [onlyLineOf(harness, "stale-1").outcome, onlyLineOf(harness, "stale-1").source],
    ["stale", "stale"],
  );

  // Refused: a wrong secret, then the clientId locked out.
  for (const id of ["invalid-1", "invalid-2"]) {
    assert.equal(
      codeOf(await ask(harness, id, { clientId: LOCKED_ID, clientSecret: WRONG_SECRET })),
      "INVALID_CREDENTIALS",
    );
    const line = onlyLineOf(harness, id);
    assert.deepEqual([line.outcome, line.code], ["refused", "INVALID_CREDENTIALS"]);
  }
  assert.equal(
    codeOf(await ask(harness, "locked-1", { clientId: LOCKED_ID, clientSecret: WRONG_SECRET })),
    "TOO_MANY_ATTEMPTS",
  );
  const locked = onlyLineOf(harness, "locked-1");
  assert.deepEqual([locked.outcome, locked.code], ["refused", "TOO_MANY_ATTEMPTS"]);
  assert.equal(typeof locked.retryAfter, "number");
  assert.notEqual(locked.clientIdHmac, issued.clientIdHmac);
  assert.equal(locked.clientIdHmac, onlyLineOf(harness, "invalid-1").clientIdHmac);

  // Refused: Aspose rate-limits the pair.
  fake.failNext({ kind: "status", status: 429, retryAfter: "600" }, 1);
  assert.equal(
    codeOf(await ask(harness, "limited-1", { clientId: RATE_ID, clientSecret: OTHER_SECRET })),
    "UPSTREAM_RATE_LIMITED",
  );
  const limited = onlyLineOf(harness, "limited-1");
  assert.deepEqual([limited.outcome, limited.code], ["refused", "UPSTREAM_RATE_LIMITED"]);

  // Failed: Aspose down and nothing cached.
  fake.failNext({ kind: "status", status: 503 }, 3);
  assert.equal(
    codeOf(await ask(harness, "failed-1", { clientId: FAILING_ID, clientSecret: OTHER_SECRET })),
    "UPSTREAM_UNAVAILABLE",
  );
  const failed = onlyLineOf(harness, "failed-1");
  assert.deepEqual([failed.outcome, failed.code], ["failed", "UPSTREAM_UNAVAILABLE"]);

  // The request ids are the ones the access log wrote for the same requests.
  for (const id of ["issued-1", "locked-1", "failed-1"])
    assert.ok(harness.logs.some((line) => line.includes(`"requestId":"${id}"`)));
  // And the audit lines went to the audit log only.
  assert.ok(!harness.logs.some((line) => line.includes('"log":"audit"')));
});

test("a background refresh that fails, or that Aspose refuses, is audited with its code", async (t) => {
  const harness = await harnessFor(t, {
    env: { AUDIT_KEY, ASPOSE_BREAKER_THRESHOLD: "1000" },
    fake: { lifetimeSeconds: LIFETIME_S },
  });
  const { fake, clock } = harness;
  await ask(harness, "first-1");
  // Aspose down while the refresh-ahead window opens.
  clock.advance((LIFETIME_S - 600) * 1000);
  fake.failNext({ kind: "status", status: 503 }, 3);
  assert.equal((await ask(harness, "ahead-fails")).data?.accessToken.fromCache, true);
  const failed = await harness.auditLine(
    (line) => line.requestId === "ahead-fails" && line.outcome !== "served",
  );
  assert.deepEqual(
    [failed.outcome, failed.source, failed.code],
    ["failed", "refresh-ahead", "UPSTREAM_UNAVAILABLE"],
  );
  // The secret rotated at Aspose: the next background try (after its back-off) is refused.
  clock.advance(120_000);
  fake.addClient(CLIENT_ID, OTHER_SECRET);
  await ask(harness, "ahead-refused");
  const refused = await harness.auditLine(
    (line) => line.requestId === "ahead-refused" && line.outcome !== "served",
  );
  assert.deepEqual(
    [refused.outcome, refused.source, refused.code],
    ["refused", "refresh-ahead", "INVALID_CREDENTIALS"],
  );
  assertCommonFields(refused);
});

test("the client address is the one the edge computed, after TRUSTED_PROXIES", async (t) => {
  const harness = await harnessFor(t, { env: { AUDIT_KEY, TRUSTED_PROXIES: "127.0.0.1" } });
  // The left-most entry is whatever the client wrote; the nearest untrusted hop is the client.
  await ask(harness, "proxied-1", {}, { "x-forwarded-for": "198.51.100.1, 203.0.113.7" });
  const [line] = linesOf(harness, "proxied-1");
  assert.equal(line?.clientAddress, "203.0.113.7");
});

test("npm run -s audit:id prints the identifier the audit log holds, from the service's env and .env", {
  timeout: 60_000,
}, async (t) => {
  // The key derived from TOKEN_CACHE_KEY, as replicas sharing a cache all derive it.
  const harness = await harnessFor(t, { env: { TOKEN_CACHE_KEY: CACHE_KEY } });
  await ask(harness, "derived-1");
  const logged = onlyLineOf(harness, "derived-1").clientIdHmac;
  const fromDotEnv = await auditId(t, [CLIENT_ID, LOCKED_ID], `TOKEN_CACHE_KEY=${CACHE_KEY}\n`);
  assert.equal(fromDotEnv.code, 0, fromDotEnv.stderr);
  const [first, second, rest] = fromDotEnv.stdout.split("\n");
  assert.equal(first, logged);
  assert.match(String(second), /^hmac-sha256:[0-9a-f]{64}$/);
  assert.notEqual(second, first);
  assert.equal(rest, "");

  // AUDIT_KEY wins over the derived key, and the environment over .env, as for the service.
  const explicit = await harnessFor(t, { env: { TOKEN_CACHE_KEY: CACHE_KEY, AUDIT_KEY } });
  await ask(explicit, "explicit-1");
  const keyed = onlyLineOf(explicit, "explicit-1").clientIdHmac;
  assert.notEqual(keyed, logged);
  const fromEnv = await auditId(t, [CLIENT_ID], `TOKEN_CACHE_KEY=${CACHE_KEY}\n`, { AUDIT_KEY });
  assert.equal(fromEnv.stdout, `${keyed}\n`);

  // No key anywhere: the service's identifiers cannot be computed, and the script says so.
  const none = await auditId(t, [CLIENT_ID], "");
  assert.equal(none.code, 78);
  assert.equal(none.stdout, "");
  assert.match(none.stderr, /AUDIT_KEY/);
});

test("AUDIT_CLIENT_ID=clear adds the clientId to accepted credentials' lines, never to refused ones", async (t) => {
  const harness = await harnessFor(t, { env: { AUDIT_KEY, AUDIT_CLIENT_ID: "clear" } });
  await ask(harness, "clear-1");
  await ask(harness, "clear-2");
  for (const id of ["clear-1", "clear-2"]) assert.equal(onlyLineOf(harness, id).clientId, CLIENT_ID);
  // A caller who swapped the two: the "clientId" is the secret, and must not be written.
  const swapped = await ask(harness, "swapped-1", { clientId: CLIENT_SECRET, clientSecret: CLIENT_ID });
  assert.equal(codeOf(swapped), "INVALID_CREDENTIALS");
  const refused = onlyLineOf(harness, "swapped-1");
  assert.equal(refused.clientId, undefined);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("AUDIT_CACHE_HITS=off drops the cache hits' lines and keeps the others", async (t) => {
  const harness = await harnessFor(t, { env: { AUDIT_KEY, AUDIT_CACHE_HITS: "off" } });
  await ask(harness, "first-1");
  assert.equal((await ask(harness, "hit-1")).data?.accessToken.fromCache, true);
  assert.equal(onlyLineOf(harness, "first-1").outcome, "issued");
  assert.deepEqual(linesOf(harness, "hit-1"), []);
  assert.equal(codeOf(await ask(harness, "wrong-1", { clientSecret: WRONG_SECRET })), "INVALID_CREDENTIALS");
  assert.equal(onlyLineOf(harness, "wrong-1").outcome, "refused");
});

test("LOG_LEVEL=warn silences the access log, not the audit trail", async (t) => {
  const harness = await harnessFor(t, { env: { AUDIT_KEY, LOG_LEVEL: "warn" } });
  await ask(harness, "quiet-1");
  assert.ok(!harness.logs.some((line) => line.includes('"requestId":"quiet-1"')));
  assert.equal(onlyLineOf(harness, "quiet-1").outcome, "issued");
});

test("AUDIT_LOG=off writes no audit line at all", async (t) => {
  const harness = await harnessFor(t, { env: { AUDIT_LOG: "off" } });
  await ask(harness, "off-1");
  await ask(harness, "off-2");
  assert.equal(codeOf(await ask(harness, "off-3", { clientSecret: WRONG_SECRET })), "INVALID_CREDENTIALS");
  assert.ok(harness.logs.some((line) => line.includes('"requestId":"off-3"')));
  assert.deepEqual(harness.auditLogs, []);
});

test("no secret and no token in any byte of the service log or the audit log", {
  timeout: 30_000,
}, async (t) => {
  // A secret no other test uses, so a hit can only be a leak of this one.
  const markerSecret = "AuditLeakMarker+/=&7f3e9c2b1a0d4e5f";
  const markerId = "b1d2e3f4-0000-4000-8000-0000000000aa";
  const harness = await harnessFor(t, {
    env: {
      AUDIT_KEY,
      AUDIT_CLIENT_ID: "clear",
      LOG_LEVEL: "trace",
      ASPOSE_BREAKER_THRESHOLD: "1000",
      FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0",
    },
    fake: { lifetimeSeconds: LIFETIME_S },
  });
  const { fake, clock } = harness;
  fake.addClient(markerId, markerSecret);
  const marker = { clientId: markerId, clientSecret: markerSecret };

  await ask(harness, "leak-issued", marker);
  await ask(harness, "leak-served", marker);
  clock.advance((LIFETIME_S - 600) * 1000);
  await ask(harness, "leak-ahead", marker);
  await harness.auditLine((line) => line.requestId === "leak-ahead" && line.outcome === "refreshed");
  clock.advance((LIFETIME_S - 200) * 1000);
  fake.failNext({ kind: "status", status: 503 }, 3);
  await ask(harness, "leak-stale", marker);
  fake.failNext({ kind: "status", status: 429, retryAfter: "600" }, 1);
  await ask(harness, "leak-limited", { ...marker, forceRefresh: true });
  // The marker as a wrong secret for a known id, and in the clientId's place (swapped).
  for (let i = 0; i < 6; i++)
    await ask(harness, `leak-wrong-${i}`, { clientId: markerId, clientSecret: `${markerSecret}${i}` });
  await ask(harness, "leak-swapped", { clientId: markerSecret, clientSecret: markerId });

  const outcomes = new Set(harness.auditLogs.map((line) => (JSON.parse(line) as AuditRecord).outcome));
  for (const outcome of ["issued", "served", "refreshed", "stale", "refused"])
    assert.ok(outcomes.has(outcome), `no ${outcome} line among ${[...outcomes].join(", ")}`);

  const forms = [
    markerSecret,
    encodeURIComponent(markerSecret),
    new URLSearchParams({ s: markerSecret }).toString().slice(2),
    JSON.stringify(markerSecret).slice(1, -1),
    "AuditLeakMarker",
  ];
  assert.deepEqual(leakedSecrets(harness, forms.slice(0, 4)), []);
  // The marker's stem, in every byte of both logs (answers may echo nothing of it either way).
  const logBytes = Buffer.from([...harness.logs, ...harness.auditLogs].join("\n"));
  assert.equal(logBytes.indexOf("AuditLeakMarker"), -1);

  const tokens = answeredTokens(harness);
  assert.ok(tokens.length >= 3);
  const parts = tokens.flatMap((token) => [token, ...token.split(".").slice(1)]);
  assert.deepEqual(tokensInLogs(harness, parts), []);
});
