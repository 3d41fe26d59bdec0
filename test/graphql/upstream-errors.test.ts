import assert from "node:assert/strict";
import { test } from "node:test";
import type { Fault } from "../../dev/fake-aspose.js";
import {
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  type ExecuteResult,
  type GraphQLErrorShape,
  type Harness,
  harnessFor,
  leakedSecrets,
  requestToken,
  tokensInLogs,
} from "../support/harness.js";

/** The single error of a failed accessToken request, with no data. */
function onlyError(result: ExecuteResult<{ accessToken: AccessTokenFields }>): GraphQLErrorShape {
  assert.equal(result.data?.accessToken ?? null, null);
  assert.equal(result.errors?.length, 1, JSON.stringify(result.errors));
  const [error] = result.errors ?? [];
  assert.ok(error !== undefined);
  assert.deepEqual(error.path, ["accessToken"]);
  return error;
}

function tokenOf(result: ExecuteResult<{ accessToken: AccessTokenFields }>): AccessTokenFields {
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const token = result.data?.accessToken;
  assert.ok(token !== undefined);
  return token;
}

/** Upstream text (pages, bodies) may be logged, redacted, for the operator; it never reaches a client. */
function inResponses(harness: Harness, texts: readonly string[]): string[] {
  return texts.filter((text) => harness.responses.some((body) => body.includes(text)));
}

interface LogLine {
  level: number;
  msg?: string;
}

function logLines(harness: Harness): LogLine[] {
  return harness.logs.map((line) => JSON.parse(line) as LogLine);
}

// ---------------------------------------------------------------------------------------------------
// INVALID_CREDENTIALS

const OTHER_ID = "7a9d2c41-3b6e-4f80-9e15-2d4c6b8a0f13";

for (const { name, clientId, clientSecret } of [
  { name: "a wrong secret", clientId: CLIENT_ID, clientSecret: "0000aaaa1111bbbb2222cccc3333dddd" },
  { name: "swapped id and secret", clientId: CLIENT_SECRET, clientSecret: CLIENT_ID },
  { name: "an unknown client id", clientId: OTHER_ID, clientSecret: CLIENT_SECRET },
]) {
  test(`${name} is INVALID_CREDENTIALS with a generic message, asked once`, async (t) => {
    const harness = await harnessFor(t);
    const error = onlyError(await requestToken(harness, { clientId, clientSecret }));
    assert.equal(error.extensions?.code, "INVALID_CREDENTIALS");
    for (const credential of [CLIENT_ID, CLIENT_SECRET, clientId, clientSecret]) {
      assert.ok(!error.message.includes(credential), "the message names no credential");
    }
    assert.match(error.message, /swapped/);
    // invalid_client is an answer, not an outage: retrying would only add a failed attempt.
    assert.equal(harness.fake.totalTokenRequests, 1);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, clientSecret]), []);
  });
}

// ---------------------------------------------------------------------------------------------------
// UPSTREAM_RATE_LIMITED

test("a persistent 429 is retried, then UPSTREAM_RATE_LIMITED with the default cool-down", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.setFault({ kind: "status", status: 429 });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_RATE_LIMITED");
  assert.equal(error.extensions?.retryAfter, 60, "Aspose gave no Retry-After: the pair cools for 60 s");
  assert.equal(harness.fake.totalTokenRequests, 3);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a persistent 429 with Retry-After waits as told, then passes retryAfter on", async (t) => {
  const harness = await harnessFor(t, { env: { ASPOSE_RETRY_LIMIT: "1" } });
  harness.fake.setFault({ kind: "status", status: 429, retryAfter: "1" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_RATE_LIMITED");
  assert.equal(error.extensions?.retryAfter, 1);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a Retry-After above ASPOSE_MAX_RETRY_AFTER_SECONDS is not waited for: one call, retryAfter returned", async (t) => {
  const harness = await harnessFor(t, { env: { ASPOSE_MAX_RETRY_AFTER_SECONDS: "5" } });
  harness.fake.setFault({ kind: "status", status: 429, retryAfter: "120" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_RATE_LIMITED");
  assert.equal(error.extensions?.retryAfter, 120);
  assert.match(error.message, /120 seconds/);
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

// ---------------------------------------------------------------------------------------------------
// UPSTREAM_UNAVAILABLE

for (const status of [502, 503, 504] as const) {
  test(`a persistent ${status} is retried, then UPSTREAM_UNAVAILABLE`, async (t) => {
    const harness = await harnessFor(t);
    harness.fake.setFault({ kind: "status", status });
    const error = onlyError(await requestToken(harness));
    assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
    assert.equal(harness.fake.totalTokenRequests, 3);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  });
}

test("an nginx 502 HTML page is an outage: retried, then UPSTREAM_UNAVAILABLE, page not returned", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.setFault({ kind: "html" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
  assert.equal(harness.fake.totalTokenRequests, 3);
  assert.deepEqual(inResponses(harness, ["nginx", "Bad Gateway"]), []);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a persistent connection reset is retried, then UPSTREAM_UNAVAILABLE", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.setFault({ kind: "reset" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
  assert.equal(harness.fake.totalTokenRequests, 3);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a 500 is UPSTREAM_UNAVAILABLE without a retry", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.setFault({ kind: "status", status: 500 });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("an upstream that never answers is bounded by the timeouts: UPSTREAM_UNAVAILABLE", async (t) => {
  const harness = await harnessFor(t, { env: { ASPOSE_TIMEOUT_MS: "300", ASPOSE_TOTAL_TIMEOUT_MS: "800" } });
  harness.fake.setFault({ kind: "hang" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
  assert.ok(harness.fake.totalTokenRequests >= 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

// ---------------------------------------------------------------------------------------------------
// UPSTREAM_BAD_RESPONSE

// A token-shaped string that must never be echoed, even inside a body the service refuses.
const REFUSED_JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJjbGllbnRfaWQiOiJyZWZ1c2VkIn0.c2lnbmF0dXJlLXJlZnVzZWQtYm9keQ";

const BAD_BODIES: { name: string; fault: Fault }[] = [
  { name: "a 200 HTML maintenance page", fault: { kind: "html200" } },
  { name: "truncated JSON", fault: { kind: "truncated" } },
  { name: "an empty 200 body", fault: { kind: "empty" } },
  { name: "a body without access_token", fault: { kind: "badShape" } },
  {
    name: "expires_in as a string",
    fault: {
      kind: "badShape",
      body: { access_token: REFUSED_JWT, expires_in: "3600", token_type: "Bearer" },
    },
  },
  {
    name: "a missing token_type",
    fault: { kind: "badShape", body: { access_token: REFUSED_JWT, expires_in: 3600 } },
  },
  { name: "a JSON array", fault: { kind: "badShape", body: [REFUSED_JWT] } },
];

for (const { name, fault } of BAD_BODIES) {
  test(`${name} is UPSTREAM_BAD_RESPONSE, not retried, logged for the operator`, async (t) => {
    const harness = await harnessFor(t);
    harness.fake.setFault(fault);
    const error = onlyError(await requestToken(harness));
    assert.equal(error.extensions?.code, "UPSTREAM_BAD_RESPONSE");
    assert.equal(harness.fake.totalTokenRequests, 1);
    assert.ok(logLines(harness).some((line) => line.level === 50));
    assert.deepEqual(inResponses(harness, ["Maintenance", "<html", "access_token", REFUSED_JWT]), []);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    assert.deepEqual(tokensInLogs(harness, [REFUSED_JWT]), []);
  });
}

for (const lifetime of [0, -60]) {
  test(`a token with expires_in ${lifetime} is UPSTREAM_BAD_RESPONSE, never served`, async (t) => {
    const harness = await harnessFor(t);
    harness.fake.setLifetime(lifetime);
    const error = onlyError(await requestToken(harness));
    assert.equal(error.extensions?.code, "UPSTREAM_BAD_RESPONSE");
    // Not cached either: once Aspose recovers, the next request gets a usable token.
    harness.fake.setLifetime(3600);
    const token = tokenOf(await requestToken(harness));
    assert.equal(token.expiresIn, 3600);
    assert.equal(harness.fake.totalTokenRequests, 2);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    assert.deepEqual(tokensInLogs(harness, [token.accessToken]), []);
  });
}

for (const oauthError of ["invalid_request", "unsupported_grant_type", "invalid_scope"]) {
  test(`a 400 ${oauthError} means misconfiguration: UPSTREAM_BAD_RESPONSE and an error log naming ASPOSE_TOKEN_PATH`, async (t) => {
    const harness = await harnessFor(t);
    harness.fake.setFault({ kind: "oauthError", error: oauthError, description: `echo ${CLIENT_SECRET}` });
    const error = onlyError(await requestToken(harness));
    assert.equal(error.extensions?.code, "UPSTREAM_BAD_RESPONSE");
    assert.ok(!error.message.includes(oauthError), "the caller cannot act on it; the operator can");
    assert.equal(harness.fake.totalTokenRequests, 1);
    assert.ok(
      logLines(harness).some((line) => line.level === 50 && (line.msg ?? "").includes("ASPOSE_TOKEN_PATH")),
      "an error-level log line points the operator at ASPOSE_TOKEN_PATH",
    );
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  });
}

test("a wrong token path (404) is UPSTREAM_BAD_RESPONSE after one call", async (t) => {
  const harness = await harnessFor(t, { env: { ASPOSE_TOKEN_PATH: "/v4.0/cells/token" } });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_BAD_RESPONSE");
  assert.equal(harness.fake.requests.length, 1);
  assert.equal(harness.fake.requests[0]?.path, "/v4.0/cells/token");
  assert.equal(harness.fake.requests[0]?.query, "");
  assert.ok(logLines(harness).some((line) => line.level === 50));
  assert.deepEqual(inResponses(harness, ["Not Found", harness.fake.url]), []);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

// ---------------------------------------------------------------------------------------------------
// Retries

test("503 twice then success: the caller gets the token after exactly 3 calls", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.failNext({ kind: "status", status: 503 }, 2);
  const token = tokenOf(await requestToken(harness));
  assert.equal(token.tokenType, "Bearer");
  assert.equal(token.expiresIn, 3600);
  assert.equal(harness.fake.totalTokenRequests, 3);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  assert.deepEqual(tokensInLogs(harness, [token.accessToken]), []);
});

test("429 with Retry-After: 0 then success is retried at once", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.failNext({ kind: "status", status: 429, retryAfter: "0" });
  const token = tokenOf(await requestToken(harness));
  assert.equal(harness.fake.totalTokenRequests, 2);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  assert.deepEqual(tokensInLogs(harness, [token.accessToken]), []);
});

test("a connection reset once then success is retried", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.failNext({ kind: "reset" });
  const token = tokenOf(await requestToken(harness));
  assert.equal(harness.fake.totalTokenRequests, 2);
  // Both attempts carried the same, complete form.
  assert.deepEqual(
    harness.fake.requests.map((request) => request.form?.client_secret),
    [CLIENT_SECRET, CLIENT_SECRET],
  );
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  assert.deepEqual(tokensInLogs(harness, [token.accessToken]), []);
});

test("a 400 invalid_client is never retried", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.failNext({ kind: "oauthError", error: "invalid_client" });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "INVALID_CREDENTIALS");
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a single 500 then success: not retried, the caller gets UPSTREAM_UNAVAILABLE", async (t) => {
  const harness = await harnessFor(t);
  harness.fake.failNext({ kind: "status", status: 500 });
  const error = onlyError(await requestToken(harness));
  assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

for (const { limit, calls } of [
  { limit: 2, calls: 3 },
  { limit: 0, calls: 1 },
  { limit: 4, calls: 5 },
]) {
  test(`ASPOSE_RETRY_LIMIT=${limit}: a persistent 503 is tried ${calls} time(s)`, async (t) => {
    const harness = await harnessFor(t, { env: { ASPOSE_RETRY_LIMIT: String(limit) } });
    harness.fake.setFault({ kind: "status", status: 503 });
    const error = onlyError(await requestToken(harness));
    assert.equal(error.extensions?.code, "UPSTREAM_UNAVAILABLE");
    assert.equal(harness.fake.totalTokenRequests, calls);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  });
}
