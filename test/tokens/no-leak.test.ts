/**
 * Neither a secret nor a token is ever written: every cache path and every upstream failure is driven
 * through the real service at LOG_LEVEL=debug, then every captured log line (and, for secrets, every
 * answer) is searched.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  type ExecuteResult,
  execute,
  type Harness,
  leakedSecrets,
  post,
  request,
  requestToken,
  startHarness,
} from "../support/harness.js";

const WRONG_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
// A secret that form-encoding changes: a leak of its encoded form must be caught too.
const SPECIAL_ID = "5d1e0c2b-7a3f-4e9d-8c6b-1a2b3c4d5e6f";
const SPECIAL_SECRET = "s3cr+t/with=&and%and spaces";

function encodedForms(secret: string): string[] {
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ s: secret }).toString().slice(2),
    JSON.stringify(secret).slice(1, -1),
  ];
}

function tokenOf(result: ExecuteResult<{ accessToken: AccessTokenFields }>): string {
  assert.equal(result.errors, undefined, `unexpected errors: ${JSON.stringify(result.errors)}`);
  const token = result.data?.accessToken.accessToken;
  assert.ok(token);
  return token;
}

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

async function exerciseEveryPath(harness: Harness): Promise<string[]> {
  const { fake, clock } = harness;
  const tokens: string[] = [];
  tokens.push(tokenOf(await requestToken(harness)));
  tokens.push(tokenOf(await requestToken(harness)));
  clock.advance(3000_000);
  tokens.push(tokenOf(await requestToken(harness)));
  tokens.push(tokenOf(await requestToken(harness, { minValidity: 3500 })));
  clock.advance(5_000);
  tokens.push(tokenOf(await requestToken(harness, { forceRefresh: true })));
  tokens.push(tokenOf(await requestToken(harness, { clientId: SPECIAL_ID, clientSecret: SPECIAL_SECRET })));

  assert.equal(codeOf(await requestToken(harness, { clientSecret: WRONG_SECRET })), "INVALID_CREDENTIALS");

  // Upstream failures, each on a fresh fetch, each carrying something worth leaking in its body.
  const failures: [Parameters<typeof fake.failNext>[0], number, string][] = [
    [{ kind: "status", status: 503 }, 3, "UPSTREAM_UNAVAILABLE"],
    [{ kind: "html" }, 3, "UPSTREAM_UNAVAILABLE"],
    [{ kind: "html200" }, 1, "UPSTREAM_BAD_RESPONSE"],
    [{ kind: "truncated" }, 1, "UPSTREAM_BAD_RESPONSE"],
    [{ kind: "reset" }, 3, "UPSTREAM_UNAVAILABLE"],
    [
      {
        kind: "oauthError",
        error: "invalid_request",
        description: `client_secret=${CLIENT_SECRET} rejected`,
      },
      1,
      "UPSTREAM_BAD_RESPONSE",
    ],
    [
      { kind: "badShape", body: { access_token: tokens[0], expires_in: "soon", secret: CLIENT_SECRET } },
      1,
      "UPSTREAM_BAD_RESPONSE",
    ],
    // Last: the pair's cool-down then answers locally, which the next step exercises.
    [{ kind: "status", status: 429, retryAfter: "3600" }, 1, "UPSTREAM_RATE_LIMITED"],
  ];
  for (const [fault, times, code] of failures) {
    fake.failNext(fault, times);
    const result = await requestToken(harness, { forceRefresh: true });
    assert.equal(codeOf(result), code, `fault ${fault.kind}`);
  }
  const calls = fake.totalTokenRequests;
  assert.equal(codeOf(await requestToken(harness, { forceRefresh: true })), "UPSTREAM_RATE_LIMITED");
  assert.equal(fake.totalTokenRequests, calls, "answered from the pair's cool-down");

  // The secret sent with the wrong type (graphql-js would echo it) and inline in the document.
  const wrongType = await execute(harness, ACCESS_TOKEN_MUTATION, {
    clientId: CLIENT_ID,
    clientSecret: { value: CLIENT_SECRET },
  });
  assert.notEqual(wrongType.errors, undefined);
  const inline = await execute(
    harness,
    `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${CLIENT_SECRET}") { accessToken } }`,
  );
  assert.notEqual(inline.errors, undefined);

  return [...new Set(tokens)];
}

test("no secret reaches a log line or an answer, no token reaches a log line", {
  timeout: 30_000,
}, async (t) => {
  // Every fault in a row, through back-to-back forced refreshes: neither the circuit breaker nor the
  // forceRefresh bound (each tested on its own) may turn them into one code.
  const harness = await startHarness({
    env: { LOG_LEVEL: "trace", ASPOSE_BREAKER_THRESHOLD: "1000", FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0" },
  });
  t.after(() => harness.close());
  harness.fake.addClient(SPECIAL_ID, SPECIAL_SECRET);

  const tokens = await exerciseEveryPath(harness);

  // The check must have something to search: debug lines and the upstream-failure lines were written.
  assert.ok(harness.logs.length >= 20, `only ${harness.logs.length} log lines`);
  assert.ok(harness.logs.some((line) => line.includes('"level":50') || line.includes('"level":40')));
  assert.ok(tokens.length >= 3);

  const secrets = [CLIENT_SECRET, WRONG_SECRET, ...encodedForms(SPECIAL_SECRET)];
  assert.deepEqual(leakedSecrets(harness, secrets), []);

  // The audit log is searched too (leakedSecrets reads it): it wrote a line per outcome.
  assert.ok(harness.auditLogs.length >= 10, `only ${harness.auditLogs.length} audit lines`);
  const lines = [...harness.logs, ...harness.auditLogs];
  for (const token of tokens) {
    const [, payload = "", signature = ""] = token.split(".");
    for (const part of [token, payload, signature]) {
      assert.ok(part.length > 20);
      const line = lines.find((text) => text.includes(part));
      assert.equal(line, undefined, `a token (or part of one) was logged: ${line?.slice(0, 120)}`);
    }
  }
});

test("the router's secrets never appear either: in logs, answers or metrics, whoever presents them", async () => {
  const routerSecret = "r0uterSecretN0Leak00000000000000000000000=";
  const previous = "pr3viousR0uterSecretN0Leak000000000000000=";
  const hmacKey = "hm4cKeyN0Leak0000000000000000000000000000=";
  const harness = await startHarness({
    env: { ROUTER_SECRET: routerSecret, ROUTER_SECRET_PREVIOUS: previous, ROUTER_HMAC_SECRET: hmacKey },
  });
  try {
    const body = JSON.stringify({
      query: ACCESS_TOKEN_MUTATION,
      variables: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
    });
    const headers = { "content-type": "application/json" };
    // Refused: no proof, half a proof, the secrets swapped between the two proofs.
    const attempts: Record<string, string>[] = [
      {},
      { "router-authorization": routerSecret },
      { "router-authorization": hmacKey },
    ];
    for (const extra of attempts)
      assert.equal((await post(harness, body, { ...headers, ...extra })).status, 403);
    const signed = JSON.stringify({
      query: ACCESS_TOKEN_MUTATION,
      variables: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      extensions: { "hmac-signature": routerSecret },
    });
    assert.equal((await post(harness, signed, { ...headers, "router-authorization": previous })).status, 403);
    const metrics = (await request(harness, "/metrics")).text;
    for (const secret of [routerSecret, previous, hmacKey]) assert.ok(!metrics.includes(secret));
    assert.deepEqual(leakedSecrets(harness, [routerSecret, previous, hmacKey, CLIENT_SECRET]), []);
  } finally {
    await harness.close();
  }
});

test("a reported rejected token never reaches a log line, on any path of the report", async (t) => {
  const harness = await startHarness({ env: { LOG_LEVEL: "trace" } });
  t.after(() => harness.close());
  const mutation = `mutation ($clientId: String!, $clientSecret: String!, $rejectedToken: String) {
    accessToken(clientId: $clientId, clientSecret: $clientSecret, rejectedToken: $rejectedToken) { accessToken }
  }`;
  const reportOf = (rejectedToken: unknown) =>
    execute(harness, mutation, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, rejectedToken });

  const cached = tokenOf(await requestToken(harness));
  harness.clock.advance(1000);
  // The cached token reported (replaced), then again (already replaced), a foreign one, a hostile one,
  // one of the wrong type (graphql-js would echo it), and one whose replacement Aspose fails.
  const replacement = tokenOf(await reportOf(cached));
  assert.notEqual(replacement, cached);
  tokenOf(await reportOf(cached));
  const foreign =
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmb3JlaWduLXRva2VuLXRvLWZpbmQifQ.Zm9yZWlnbi1zaWduYXR1cmUtdG8tZmluZA";
  tokenOf(await reportOf(foreign));
  const hostile = 'hostile-token-to-find\n{"level":60}';
  assert.equal(codeOf(await reportOf(hostile)), "BAD_USER_INPUT");
  assert.notEqual((await reportOf({ value: foreign })).errors, undefined);
  harness.fake.failNext({ kind: "status", status: 503 }, 3);
  harness.clock.advance(1000);
  assert.equal(codeOf(await reportOf(replacement)), "UPSTREAM_UNAVAILABLE");

  assert.ok(harness.logs.length >= 5, `only ${harness.logs.length} log lines`);
  for (const token of [cached, replacement, foreign]) {
    const [, payload = "", signature = ""] = token.split(".");
    for (const part of [token, payload, signature]) {
      const line = harness.logs.find((text) => text.includes(part));
      assert.equal(line, undefined, `a reported token (or part of one) was logged: ${line?.slice(0, 120)}`);
    }
  }
  assert.equal(
    harness.logs.some((line) => line.includes("hostile-token-to-find")),
    false,
  );
  // Neither answers nor logs echo what was reported but not issued.
  assert.deepEqual(leakedSecrets(harness, [foreign, "hostile-token-to-find", CLIENT_SECRET]), []);
});
