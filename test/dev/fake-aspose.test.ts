import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { once } from "node:events";
import { connect } from "node:net";
import type { TestContext } from "node:test";
import { test } from "node:test";
import type { FakeAsposeOptions, TokenRequestRecord } from "../../dev/fake-aspose.js";
import { decodeJwtClaims, FakeAspose } from "../../dev/fake-aspose.js";

const CLIENT_ID = "2b1a4f3e-6c1d-4c8e-9a57-0f5e2d7c9b11";
// Characters that break a secret that is not form-encoded.
const CLIENT_SECRET = "s3cr+t/with=&chars";
const OTHER_ID = "9d0c1b2a-3e4f-4a5b-8c6d-7e8f9a0b1c2d";
const OTHER_SECRET = "other-secret";

async function startFake(t: TestContext, options: FakeAsposeOptions = {}): Promise<FakeAspose> {
  const fake = await FakeAspose.start({ clients: { [CLIENT_ID]: CLIENT_SECRET }, ...options });
  t.after(() => fake.close());
  return fake;
}

function credentials(overrides: Record<string, string | undefined> = {}): Record<string, string> {
  const fields: Record<string, string | undefined> = {
    grant_type: "client_credentials",
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    ...overrides,
  };
  const defined: Record<string, string> = {};
  for (const [name, value] of Object.entries(fields)) if (value !== undefined) defined[name] = value;
  return defined;
}

// fetch sets "application/x-www-form-urlencoded;charset=UTF-8" for a URLSearchParams body.
function postForm(
  fake: FakeAspose,
  fields: Record<string, string>,
  path = "/connect/token",
): Promise<Response> {
  return fetch(`${fake.url}${path}`, { method: "POST", body: new URLSearchParams(fields) });
}

async function expectOAuthError(response: Response, error: string): Promise<void> {
  assert.equal(response.status, 400);
  assert.equal(response.headers.get("content-type"), "application/json; charset=UTF-8");
  assert.deepEqual(await response.json(), { error });
}

function errorCode(error: unknown): unknown {
  assert.ok(error instanceof Error);
  const cause: unknown = error.cause;
  return typeof cause === "object" && cause !== null && "code" in cause ? cause.code : undefined;
}

test("issues an RS256 token on all three token paths with the no-cache headers", async (t) => {
  const now = 1_750_000_000_123;
  const fake = await startFake(t, { lifetimeSeconds: 86_400, now: () => now });
  for (const path of ["/connect/token", "/v3.0/cells/connect/token", "/v4.0/cells/connect/token"]) {
    const response = await postForm(fake, credentials(), path);
    assert.equal(response.status, 200, path);
    assert.equal(response.headers.get("content-type"), "application/json; charset=UTF-8");
    assert.equal(response.headers.get("cache-control"), "no-store, no-cache, max-age=0");
    assert.equal(response.headers.get("pragma"), "no-cache");
    const body: unknown = await response.json();
    assert.ok(typeof body === "object" && body !== null);
    assert.deepEqual(Object.keys(body).sort(), ["access_token", "expires_in", "token_type"]);
    assert.ok("access_token" in body && typeof body.access_token === "string");
    assert.ok("expires_in" in body && "token_type" in body);
    assert.equal(body.expires_in, 86_400);
    assert.equal(body.token_type, "Bearer");

    const [header = "", payload = "", signature = ""] = body.access_token.split(".");
    assert.deepEqual(JSON.parse(Buffer.from(header, "base64url").toString("utf8")), {
      alg: "RS256",
      typ: "JWT",
    });
    const signed = verify(
      "sha256",
      Buffer.from(`${header}.${payload}`),
      fake.publicKey,
      Buffer.from(signature, "base64url"),
    );
    assert.ok(signed, "signature verifies with the fake's public key");

    const claims = decodeJwtClaims(body.access_token);
    assert.equal(claims.nbf, Math.floor(now / 1000));
    assert.equal(Number(claims.exp) - Number(claims.nbf), body.expires_in);
    assert.equal(claims.iss, "https://api.aspose.cloud");
    assert.deepEqual(claims.aud, ["https://api.aspose.cloud", "https://api.aspose.cloud/resources"]);
    assert.equal(claims.client_id, CLIENT_ID);
    assert.match(
      String(claims.client_default_storage),
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );
    assert.match(String(claims.client_identity_user_id), /^\d+$/);
    assert.deepEqual(claims.scope, ["api.billing", "api.identity", "api.products", "api.storage"]);
    assert.deepEqual(Object.keys(claims).sort(), [
      "aud",
      "client_default_storage",
      "client_id",
      "client_identity_user_id",
      "exp",
      "iss",
      "nbf",
      "scope",
    ]);
  }
  assert.equal(fake.totalTokenRequests, 3);
  assert.deepEqual(
    fake.requests.map((r) => r.path),
    ["/connect/token", "/v3.0/cells/connect/token", "/v4.0/cells/connect/token"],
  );
});

test("setLifetime changes expires_in and exp, and includeScope adds a scope string", async (t) => {
  const fake = await startFake(t, { includeScope: true });
  fake.setLifetime(604_800);
  const response = await postForm(fake, credentials());
  const body = (await response.json()) as { access_token: string; expires_in: number; scope: unknown };
  assert.equal(body.expires_in, 604_800);
  assert.equal(typeof body.scope, "string");
  const claims = decodeJwtClaims(body.access_token);
  assert.equal(Number(claims.exp) - Number(claims.nbf), 604_800);
});

test("accepts a charset parameter and records the request", async (t) => {
  const fake = await startFake(t);
  const response = await fetch(`${fake.url}/connect/token?x=1`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
      Accept: "application/json",
    },
    body: new URLSearchParams(credentials()).toString(),
  });
  assert.equal(response.status, 200);
  const [record] = fake.requests;
  assert.ok(record);
  assert.equal(record.method, "POST");
  assert.equal(record.query, "x=1");
  assert.equal(record.contentType, "application/x-www-form-urlencoded; charset=utf-8");
  assert.equal(record.headers.accept, "application/json");
  assert.equal(record.clientId, CLIENT_ID);
  assert.deepEqual(record.form, credentials());
  assert.equal(record.rawBody, new URLSearchParams(credentials()).toString());
});

test("answers invalid_client for a wrong secret, an unknown id, swapped values or no client_id", async (t) => {
  const fake = await startFake(t);
  await expectOAuthError(await postForm(fake, credentials({ client_secret: "wrong" })), "invalid_client");
  await expectOAuthError(await postForm(fake, credentials({ client_id: OTHER_ID })), "invalid_client");
  await expectOAuthError(
    await postForm(fake, credentials({ client_id: CLIENT_SECRET, client_secret: CLIENT_ID })),
    "invalid_client",
  );
  await expectOAuthError(await postForm(fake, credentials({ client_id: undefined })), "invalid_client");
  await expectOAuthError(await postForm(fake, credentials({ client_secret: undefined })), "invalid_client");
  fake.addClient(OTHER_ID, OTHER_SECRET);
  const accepted = await postForm(fake, credentials({ client_id: OTHER_ID, client_secret: OTHER_SECRET }));
  assert.equal(accepted.status, 200);
  await accepted.body?.cancel();
});

test("answers unsupported_grant_type for a missing or other grant_type", async (t) => {
  const fake = await startFake(t);
  await expectOAuthError(
    await postForm(fake, credentials({ grant_type: undefined })),
    "unsupported_grant_type",
  );
  await expectOAuthError(
    await postForm(fake, credentials({ grant_type: "password" })),
    "unsupported_grant_type",
  );
});

test("answers invalid_request for a JSON body, a non-POST or a repeated parameter; invalid_scope for a scope", async (t) => {
  const fake = await startFake(t);
  const json = await fetch(`${fake.url}/connect/token`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(credentials()),
  });
  await expectOAuthError(json, "invalid_request");
  await expectOAuthError(await fetch(`${fake.url}/connect/token`), "invalid_request");
  const repeated = new URLSearchParams(credentials());
  repeated.append("client_id", OTHER_ID);
  await expectOAuthError(
    await fetch(`${fake.url}/connect/token`, { method: "POST", body: repeated }),
    "invalid_request",
  );
  await expectOAuthError(await postForm(fake, credentials({ scope: "api.storage" })), "invalid_scope");
  assert.equal(fake.totalTokenRequests, 4);
  assert.equal(fake.requests[0]?.form, undefined);
});

test("answers 404 on other paths without counting a token request", async (t) => {
  const fake = await startFake(t);
  fake.setFault({ kind: "hang" });
  const response = await postForm(fake, credentials(), "//connect/token");
  assert.equal(response.status, 404);
  assert.equal(await response.text(), "Not Found");
  assert.equal(fake.totalTokenRequests, 0);
  assert.equal(fake.requests.length, 1);
});

test("counts token requests per client, faulted ones included, until resetCounters", async (t) => {
  const fake = await startFake(t, { clients: { [CLIENT_ID]: CLIENT_SECRET, [OTHER_ID]: OTHER_SECRET } });
  const seen: TokenRequestRecord[] = [];
  fake.on("request", (record) => seen.push(record));
  fake.failNext({ kind: "status", status: 500 });
  for (const fields of [
    credentials(),
    credentials(),
    credentials({ client_id: OTHER_ID, client_secret: OTHER_SECRET }),
    credentials({ client_secret: "wrong" }),
  ]) {
    await (await postForm(fake, fields)).body?.cancel();
  }
  assert.equal(fake.totalTokenRequests, 4);
  assert.equal(fake.countFor(CLIENT_ID), 3);
  assert.equal(fake.countFor(OTHER_ID), 1);
  assert.equal(fake.countFor("nobody"), 0);
  assert.deepEqual(
    seen.map((record) => record.clientId),
    [CLIENT_ID, CLIENT_ID, OTHER_ID, CLIENT_ID],
  );
  fake.resetCounters();
  assert.equal(fake.totalTokenRequests, 0);
  assert.equal(fake.countFor(CLIENT_ID), 0);
  assert.equal(fake.requests.length, 0);
});

test("serves queued faults in order before a persistent fault, then answers normally", async (t) => {
  const fake = await startFake(t);
  fake.setFault({ kind: "html" });
  fake.failNext({ kind: "status", status: 503 });
  fake.failNext({ kind: "status", status: 429, retryAfter: "7" }, 2);
  fake.failNext({ kind: "oauthError", error: "invalid_client", description: "Client not found" });

  const first = await postForm(fake, credentials());
  assert.equal(first.status, 503);
  await first.body?.cancel();
  for (let i = 0; i < 2; i++) {
    const limited = await postForm(fake, credentials());
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "7");
    await limited.body?.cancel();
  }
  const oauth = await postForm(fake, credentials());
  assert.equal(oauth.status, 400);
  assert.deepEqual(await oauth.json(), { error: "invalid_client", error_description: "Client not found" });

  const html = await postForm(fake, credentials());
  assert.equal(html.status, 502);
  assert.match(html.headers.get("content-type") ?? "", /^text\/html/);
  assert.match(await html.text(), /502 Bad Gateway/);

  fake.setFault(undefined);
  const ok = await postForm(fake, credentials());
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
  assert.equal(fake.totalTokenRequests, 6);
});

test("serves malformed 200 answers: maintenance HTML, truncated JSON, empty body, bad shape", async (t) => {
  const fake = await startFake(t);
  fake.failNext({ kind: "html200" });
  fake.failNext({ kind: "truncated" });
  fake.failNext({ kind: "empty" });
  fake.failNext({ kind: "badShape" });
  fake.failNext({ kind: "badShape", body: { access_token: "", expires_in: -1, token_type: "mac" } });

  const html = await postForm(fake, credentials());
  assert.equal(html.status, 200);
  assert.match(html.headers.get("content-type") ?? "", /^text\/html/);
  await html.body?.cancel();

  const truncated = await postForm(fake, credentials());
  assert.equal(truncated.status, 200);
  assert.equal(truncated.headers.get("content-type"), "application/json; charset=UTF-8");
  await assert.rejects(truncated.json(), SyntaxError);

  const empty = await postForm(fake, credentials());
  assert.equal(empty.status, 200);
  assert.equal(await empty.text(), "");

  const badShape = await postForm(fake, credentials());
  assert.deepEqual(await badShape.json(), { expires_in: "3600", token_type: "Bearer" });
  const custom = await postForm(fake, credentials());
  assert.deepEqual(await custom.json(), { access_token: "", expires_in: -1, token_type: "mac" });
});

test("holds token requests until released, then answers them", async (t) => {
  const fake = await startFake(t);
  const release = fake.hold();
  let settled = 0;
  const pending = [1, 2, 3].map(() =>
    postForm(fake, credentials()).then((response) => {
      settled++;
      return response;
    }),
  );
  await fake.waitForRequests(3);
  assert.equal(settled, 0);
  release();
  const responses = await Promise.all(pending);
  assert.deepEqual(
    responses.map((response) => response.status),
    [200, 200, 200],
  );
  await Promise.all(responses.map((response) => response.body?.cancel()));
  // Released: later requests are not held.
  const later = await postForm(fake, credentials());
  assert.equal(later.status, 200);
  await later.body?.cancel();
});

test("reset makes the client see ECONNRESET", async (t) => {
  const fake = await startFake(t);
  fake.failNext({ kind: "reset" });
  const error: unknown = await postForm(fake, credentials()).then(
    () => assert.fail("expected the request to fail"),
    (caught: unknown) => caught,
  );
  assert.equal(errorCode(error), "ECONNRESET");
  assert.equal(fake.totalTokenRequests, 1);
  const after = await postForm(fake, credentials());
  assert.equal(after.status, 200);
  await after.body?.cancel();
});

test("close() ends hung, held and delayed requests promptly", async (t) => {
  const fake = await startFake(t);
  fake.failNext({ kind: "hang" });
  const hung = postForm(fake, credentials());
  await fake.waitForRequests(1);
  fake.setLatency(60_000);
  const delayed = postForm(fake, credentials());
  await fake.waitForRequests(2);
  fake.hold();
  const held = postForm(fake, credentials());
  await fake.waitForRequests(3);

  const closing = fake.close();
  await Promise.all([
    assert.rejects(hung, TypeError),
    assert.rejects(delayed, TypeError),
    assert.rejects(held, TypeError),
  ]);
  await closing;
  await assert.rejects(fake.waitForRequests(4), /closed/);
});

test("waitForRequests resolves on arrival, and at once when already reached", async (t) => {
  const fake = await startFake(t);
  await fake.waitForRequests(0);
  const waiting = fake.waitForRequests(2);
  const arrived = once(fake, "request");
  fake.setFault({ kind: "hang" });
  const first = postForm(fake, credentials());
  const [record] = (await arrived) as [TokenRequestRecord];
  assert.equal(record.clientId, CLIENT_ID);
  const second = postForm(fake, credentials({ client_id: OTHER_ID }));
  await waiting;
  assert.equal(fake.totalTokenRequests, 2);
  await fake.waitForRequests(1);
  await fake.close();
  await Promise.allSettled([first, second]);
});

test("survives malformed HTTP and keeps serving", async (t) => {
  const fake = await startFake(t);
  const socket = connect(Number(new URL(fake.url).port), "127.0.0.1");
  await once(socket, "connect");
  socket.end("NOT HTTP AT ALL\r\n\u0000\u0001\r\n\r\n");
  socket.resume();
  await once(socket, "close");

  const oddForm = await fetch(`${fake.url}/connect/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "grant_type=%zz&client_id=%E0%A4%A&__proto__=x&&=",
  });
  await expectOAuthError(oddForm, "invalid_client");

  const ok = await postForm(fake, credentials());
  assert.equal(ok.status, 200);
  await ok.body?.cancel();
});

test("decodeJwtClaims rejects things that are not JWTs", () => {
  assert.throws(() => decodeJwtClaims("abc"), TypeError);
  assert.throws(() => decodeJwtClaims(`x.${Buffer.from("[1]").toString("base64url")}.y`), TypeError);
  assert.deepEqual(decodeJwtClaims(`x.${Buffer.from('{"a":1}').toString("base64url")}.y`), { a: 1 });
});

test("the per-pair rate limit: five failures for a pair, then 429 with Retry-After for 600 s, for that pair only", async (t) => {
  let now = 1_750_000_000_000;
  const fake = await startFake(t, { now: () => now, pairRateLimit: {} });
  const wrong = credentials({ client_secret: "wrong-secret-1" });
  for (let i = 0; i < 5; i++) await expectOAuthError(await postForm(fake, wrong), "invalid_client");

  const limited = await postForm(fake, wrong);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "600");
  await limited.body?.cancel();
  // The corrected secret and another wrong one are other pairs.
  assert.equal((await postForm(fake, credentials())).status, 200);
  await expectOAuthError(
    await postForm(fake, credentials({ client_secret: "wrong-secret-2" })),
    "invalid_client",
  );

  now += 300_000;
  const later = await postForm(fake, wrong);
  assert.equal(later.status, 429);
  assert.equal(later.headers.get("retry-after"), "300", "the seconds left");
  await later.body?.cancel();
  now += 300_000;
  await expectOAuthError(await postForm(fake, wrong), "invalid_client");
  assert.equal(fake.totalTokenRequests, 10, "every request is counted, refused or not");
});

test("the per-pair rate limit is off unless switched on, and setPairRateLimit switches it", async (t) => {
  const fake = await startFake(t);
  const wrong = credentials({ client_secret: "wrong-secret" });
  for (let i = 0; i < 8; i++) await expectOAuthError(await postForm(fake, wrong), "invalid_client");

  fake.setPairRateLimit({ failures: 2, cooldownSeconds: 30 });
  for (let i = 0; i < 2; i++) await expectOAuthError(await postForm(fake, wrong), "invalid_client");
  const limited = await postForm(fake, wrong);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get("retry-after"), "30");
  await limited.body?.cancel();

  fake.setPairRateLimit(undefined);
  await expectOAuthError(await postForm(fake, wrong), "invalid_client");
});
