/**
 * Structured logs through the real server: JSON lines, LOG_LEVEL, request ids (taken when well-formed,
 * echoed, else generated), exactly one "request" line per request with its outcome and duration, and
 * no secret in any line, whatever the request did.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  requestToken,
  startHarness,
} from "../support/harness.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const WRONG_SECRET = "0000aaaa1111bbbb2222cccc3333dddd";
const INLINE_SECRET = "inline5ecret5hould5neverbe5een00";

type LogLine = Record<string, unknown>;

function parsed(harness: Harness): LogLine[] {
  return harness.logs.map((line): LogLine => JSON.parse(line));
}

function requestLines(harness: Harness, requestId: string): LogLine[] {
  return parsed(harness).filter((line) => line.msg === "request" && line.requestId === requestId);
}

function graphqlBody(variables: Record<string, unknown>, query = ACCESS_TOKEN_MUTATION): string {
  return JSON.stringify({ query, variables });
}

describe("request ids and request lines", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.close();
  });

  test("every line is JSON with a level, a time and the service name", async () => {
    await requestToken(harness);
    assert.ok(harness.logs.length > 0);
    for (const line of parsed(harness)) {
      assert.equal(typeof line.level, "number");
      assert.equal(typeof line.time, "number");
      assert.equal(line.service, "aspose-token-subgraph");
    }
  });

  test("a well-formed x-request-id is used, logged and echoed", async () => {
    const id = "req-7f3a.b:9_Z";
    const response = await fetch(`${harness.origin}/healthz`, { headers: { "x-request-id": id } });
    assert.equal(response.headers.get("x-request-id"), id);
    assert.equal(requestLines(harness, id).length, 1);
  });

  test("a malformed x-request-id is replaced by a generated one, which is echoed and logged", async () => {
    const generated = new Set<string>();
    for (const given of ["has space", "x".repeat(129), "semi;colon", "ünïcode", ""]) {
      const response = await fetch(`${harness.origin}/healthz`, { headers: { "x-request-id": given } });
      const echoed = response.headers.get("x-request-id") ?? "";
      assert.match(echoed, UUID, JSON.stringify(given));
      assert.equal(requestLines(harness, echoed).length, 1);
      assert.equal(
        parsed(harness).some((line) => line.requestId === given),
        false,
      );
      generated.add(echoed);
    }
    const without = await fetch(`${harness.origin}/healthz`);
    generated.add(without.headers.get("x-request-id") ?? "");
    assert.equal(generated.size, 6, "each request gets its own id");
  });

  test("exactly one request line per request, with status, outcome and durationMs, whatever happened", async () => {
    const json = { "content-type": "application/json" };
    const cases: { id: string; path: string; init: RequestInit; outcome: string }[] = [
      {
        id: "mix-ok",
        path: "/graphql",
        init: {
          method: "POST",
          headers: json,
          body: graphqlBody({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
        },
        outcome: "ok",
      },
      {
        id: "mix-invalid",
        path: "/graphql",
        init: {
          method: "POST",
          headers: json,
          body: graphqlBody({ clientId: CLIENT_ID, clientSecret: WRONG_SECRET }),
        },
        outcome: "INVALID_CREDENTIALS",
      },
      {
        id: "mix-blank",
        path: "/graphql",
        init: {
          method: "POST",
          headers: json,
          body: graphqlBody({ clientId: " ", clientSecret: CLIENT_SECRET }),
        },
        outcome: "BAD_USER_INPUT",
      },
      {
        id: "mix-parse",
        path: "/graphql",
        init: { method: "POST", headers: json, body: JSON.stringify({ query: "mutation {" }) },
        outcome: "GRAPHQL_PARSE_FAILED",
      },
      {
        id: "mix-not-json",
        path: "/graphql",
        init: { method: "POST", headers: json, body: "{not json" },
        outcome: "BAD_REQUEST",
      },
      {
        id: "mix-too-large",
        path: "/graphql",
        init: { method: "POST", headers: json, body: "x".repeat(70_000) },
        outcome: "PAYLOAD_TOO_LARGE",
      },
      { id: "mix-landing", path: "/graphql", init: { headers: { accept: "text/html" } }, outcome: "ok" },
      { id: "mix-preflight", path: "/graphql", init: { method: "OPTIONS" }, outcome: "ok" },
      { id: "mix-health", path: "/healthz", init: {}, outcome: "ok" },
      { id: "mix-head", path: "/healthz", init: { method: "HEAD" }, outcome: "ok" },
      { id: "mix-ready", path: "/readyz", init: {}, outcome: "ok" },
      { id: "mix-metrics", path: "/metrics", init: {}, outcome: "ok" },
      { id: "mix-404", path: "/nope", init: {}, outcome: "NOT_FOUND" },
      { id: "mix-405", path: "/healthz", init: { method: "DELETE" }, outcome: "METHOD_NOT_ALLOWED" },
    ];
    for (const { id, path, init, outcome } of cases) {
      const headers = new Headers(init.headers);
      headers.set("x-request-id", id);
      const response = await fetch(`${harness.origin}${path}`, { ...init, headers });
      await response.arrayBuffer();
      const lines = requestLines(harness, id);
      assert.equal(lines.length, 1, `${id}: ${lines.length} request lines`);
      const [line] = lines;
      assert.equal(line?.status, response.status, id);
      assert.equal(line?.outcome, outcome, id);
      assert.equal(line?.path, path, id);
      assert.equal(line?.method, init.method ?? "GET", id);
      assert.equal(typeof line?.durationMs, "number", id);
      assert.ok(Number(line?.durationMs) >= 0, id);
    }
  });
});

describe("no secret in any log line", () => {
  let harness: Harness;
  const tokens: string[] = [];
  before(async () => {
    // Back-to-back forced refreshes drive the upstream paths: no FORCE_REFRESH_MIN_INTERVAL_SECONDS bound.
    harness = await startHarness({
      env: { LOG_LEVEL: "trace", LOCKOUT_THRESHOLD: "2", FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0" },
    });
    const json = { "content-type": "application/json" };
    const ok = await requestToken(harness);
    tokens.push(ok.data?.accessToken.accessToken ?? "");
    const forced = await requestToken(harness, { forceRefresh: true });
    tokens.push(forced.data?.accessToken.accessToken ?? "");
    // The token echoed back as a bearer header, as a careless client might.
    await fetch(harness.url, {
      method: "POST",
      headers: { ...json, authorization: `Bearer ${tokens[0]}` },
      body: graphqlBody({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
    });
    // Upstream failures that log the (redacted) upstream answer.
    harness.fake.failNext({ kind: "html" });
    harness.fake.failNext({ kind: "status", status: 500 });
    await requestToken(harness, { forceRefresh: true });
    harness.fake.failNext({ kind: "oauthError", error: "invalid_request", description: CLIENT_SECRET });
    await requestToken(harness, { forceRefresh: true });
    harness.fake.failNext({ kind: "truncated" });
    await requestToken(harness, { forceRefresh: true });
    // A secret inlined as a literal, sent with the wrong type, and put in a GET query string.
    await fetch(harness.url, {
      method: "POST",
      headers: json,
      body: JSON.stringify({
        query: `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${INLINE_SECRET}") { accessToken } }`,
      }),
    });
    await fetch(harness.url, {
      method: "POST",
      headers: json,
      body: graphqlBody({ clientId: CLIENT_ID, clientSecret: { nested: INLINE_SECRET } }),
    });
    const search = new URLSearchParams({
      query: ACCESS_TOKEN_MUTATION,
      variables: JSON.stringify({ clientId: CLIENT_ID, clientSecret: INLINE_SECRET }),
    });
    await fetch(`${harness.url}?${search}`, { headers: { "apollo-require-preflight": "1" } });
    await fetch(`${harness.origin}/nope?clientSecret=${INLINE_SECRET}`);
    // Invalid credentials up to a lockout.
    for (let i = 0; i < 3; i++) await requestToken(harness, { clientSecret: WRONG_SECRET });
  });
  after(async () => {
    await harness.close();
  });

  test("no clientSecret, token or inline secret is written, even at LOG_LEVEL=trace", () => {
    assert.ok(harness.logs.length >= 12, "the scenario produced logs to search");
    assert.ok(
      parsed(harness).some((line) => line.level === 40 || line.level === 50),
      "failures were logged",
    );
    for (const secret of [CLIENT_SECRET, WRONG_SECRET, INLINE_SECRET, ...tokens]) {
      assert.ok(secret.length >= 32);
      assert.ok(!harness.logs.some((line) => line.includes(secret)), "a secret reached a log line");
    }
  });
});

describe("LOG_LEVEL", () => {
  test("warn: failures are logged, request lines (info) are not", async () => {
    const harness = await startHarness({ env: { LOG_LEVEL: "warn" } });
    try {
      harness.fake.setFault({ kind: "status", status: 500 });
      const failed = await requestToken(harness);
      assert.equal(failed.errors?.[0]?.extensions?.code, "UPSTREAM_UNAVAILABLE");
      await fetch(`${harness.origin}/healthz`);
      const lines = parsed(harness);
      assert.ok(lines.length > 0, "the warning was logged");
      for (const line of lines) assert.ok(Number(line.level) >= 40, JSON.stringify(line));
      assert.equal(
        lines.some((line) => line.msg === "request"),
        false,
      );
    } finally {
      await harness.close();
    }
  });

  test("info: one request line per request", async () => {
    const harness = await startHarness({ env: { LOG_LEVEL: "info" } });
    try {
      await requestToken(harness);
      const lines = parsed(harness);
      assert.equal(lines.filter((line) => line.msg === "request").length, 1);
      for (const line of lines) assert.ok(Number(line.level) >= 30, JSON.stringify(line));
    } finally {
      await harness.close();
    }
  });

  test("silent: nothing at all", async () => {
    const harness = await startHarness({ env: { LOG_LEVEL: "silent" } });
    try {
      harness.fake.setFault({ kind: "status", status: 500 });
      await requestToken(harness);
      await fetch(`${harness.origin}/nope`);
      assert.deepEqual(harness.logs, []);
    } finally {
      await harness.close();
    }
  });
});
