import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { type TestContext, test } from "node:test";
import { decodeJwtClaims } from "../../dev/fake-aspose.js";
import type {
  AsposeTokenClient,
  AsposeTokenClientOptions,
  UpstreamOutcome,
} from "../../src/aspose/token-client.js";
import type { Credential } from "../../src/tokens/credential.js";
import { codedRejection, testConnector } from "../support/connector.js";
import { testCredential } from "../support/credentials.js";
import { CLIENT_ID, CLIENT_SECRET, type Harness, leakedSecrets, startHarness } from "../support/harness.js";

const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
/** The handle the parser would make for these credentials. */
function credentialOf(credentials: { clientId: string; clientSecret: string }): Credential {
  return testCredential(credentials.clientId, credentials.clientSecret);
}

interface Connector {
  readonly harness: Harness;
  readonly client: AsposeTokenClient;
  readonly attempts: UpstreamOutcome[];
  readonly calls: UpstreamOutcome[];
}

// The harness provides the fake Aspose, the shared TestClock and the captured logs; the connector is
// built here, straight against the fake, and logs into the same capture.
async function connector(
  t: TestContext,
  options: Partial<AsposeTokenClientOptions> = {},
): Promise<Connector> {
  const harness = await startHarness();
  t.after(() => harness.close());
  const attempts: UpstreamOutcome[] = [];
  const calls: UpstreamOutcome[] = [];
  const client = testConnector(harness.fake.url, harness.logs, {
    tokenPath: "/v4.0/cells/connect/token",
    clock: harness.clock.now,
    observer: { attempt: (outcome) => attempts.push(outcome), call: (outcome) => calls.push(outcome) },
    ...options,
  });
  return { harness, client, attempts, calls };
}

const rejection = codedRejection;

function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

test("the issued token comes back intact, with validity counted from the moment it was asked for", async (t) => {
  const { harness, client } = await connector(t);
  const { fake, clock } = harness;
  fake.setLifetime(86_400);
  const sentAt = clock.now();
  const release = fake.hold();
  const pending = client.issue(credentialOf(CREDENTIALS));
  await fake.waitForRequests(1);
  // Aspose takes 7 s to answer: the token must not be believed to live 7 s longer than it does.
  clock.advance(7_000);
  release();
  const token = await pending;

  const [header = "", payload = "", signature = ""] = token.accessToken.split(".");
  assert.ok(
    verify(
      "sha256",
      Buffer.from(`${header}.${payload}`),
      fake.publicKey,
      Buffer.from(signature, "base64url"),
    ),
    "the token must be byte-for-byte the one the fake signed",
  );
  const claims = decodeJwtClaims(token.accessToken);
  assert.equal(claims.client_id, CLIENT_ID);
  assert.equal(token.tokenType, "Bearer");
  assert.equal(token.issuedAtMs, sentAt);
  assert.equal(token.expiresAtMs, sentAt + 86_400_000);
  // The fake stamped nbf when it answered, 7 s later; the expiry stays the earlier, safe one.
  assert.equal(Number(claims.exp) * 1000, sentAt + 7_000 + 86_400_000);
  assert.deepEqual(token.scopes, claims.scope);
  assert.equal(token.defaultStorage, claims.client_default_storage);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, token.accessToken]), []);
});

test("the form body carries exactly grant_type, client_id and client_secret, and no scope", async (t) => {
  const { harness, client } = await connector(t);
  await client.issue(credentialOf(CREDENTIALS));
  const [request] = harness.fake.requests;
  assert.ok(request !== undefined);
  assert.equal(request.method, "POST");
  assert.equal(request.query, "");
  assert.deepEqual([...new URLSearchParams(request.rawBody).keys()].sort(), [
    "client_id",
    "client_secret",
    "grant_type",
  ]);
  assert.deepEqual(request.form, {
    grant_type: "client_credentials",
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
  });
  assert.equal(request.headers.authorization, undefined, "no HTTP Basic auth");
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("a JWT exp earlier than expires_in caps the expiry", async (t) => {
  const { harness, client } = await connector(t);
  const now = harness.clock.now();
  const exp = Math.floor(now / 1000) + 600;
  const accessToken = unsignedJwt({ exp, scope: "api.storage api.billing" });
  harness.fake.failNext({
    kind: "badShape",
    body: { access_token: accessToken, expires_in: 3600, token_type: "Bearer" },
  });
  const token = await client.issue(credentialOf(CREDENTIALS));
  assert.equal(token.accessToken, accessToken);
  assert.equal(token.expiresAtMs, exp * 1000);
  assert.deepEqual(token.scopes, ["api.storage", "api.billing"]);
  assert.equal(token.defaultStorage, null);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("an opaque (non-JWT) token is still served, its expiry taken from expires_in", async (t) => {
  const { harness, client } = await connector(t);
  harness.fake.failNext({
    kind: "badShape",
    body: { access_token: "opaque-reference-token-5f1c", expires_in: 1800, token_type: "Bearer", scope: "x" },
  });
  const token = await client.issue(credentialOf(CREDENTIALS));
  assert.equal(token.accessToken, "opaque-reference-token-5f1c");
  assert.equal(token.expiresAtMs, harness.clock.now() + 1_800_000);
  assert.deepEqual(token.scopes, []);
  assert.equal(token.defaultStorage, null);
});

test("a token that cannot go into an Authorization header is refused as a bad response", async (t) => {
  const { harness, client } = await connector(t);
  for (const accessToken of ["two words", "line\r\nX-Injected: 1", "ünïcødé", ""]) {
    harness.fake.failNext({
      kind: "badShape",
      body: { access_token: accessToken, expires_in: 3600, token_type: "Bearer" },
    });
    const error = await rejection(client.issue(credentialOf(CREDENTIALS)));
    assert.equal(error.code, "UPSTREAM_BAD_RESPONSE", JSON.stringify(accessToken));
  }
  // Foreign text reaches the logs only inside JSON strings: no forged log lines.
  for (const line of harness.logs) assert.doesNotThrow(() => JSON.parse(line), line);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("failures reject with coded ServiceErrors whose message names no credential", async (t) => {
  const { harness, client } = await connector(t);
  const wrong = await rejection(
    client.issue(credentialOf({ clientId: CLIENT_ID, clientSecret: "wrong-secret-0001" })),
  );
  assert.equal(wrong.code, "INVALID_CREDENTIALS");
  assert.ok(!wrong.message.includes(CLIENT_ID));
  harness.fake.failNext({ kind: "truncated" });
  assert.equal((await rejection(client.issue(credentialOf(CREDENTIALS)))).code, "UPSTREAM_BAD_RESPONSE");
  harness.fake.setFault({ kind: "status", status: 503 });
  assert.equal((await rejection(client.issue(credentialOf(CREDENTIALS)))).code, "UPSTREAM_UNAVAILABLE");
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, "wrong-secret-0001"]), []);
});

test("an upstream error body that echoes the secret is logged redacted", async (t) => {
  const { harness, client } = await connector(t);
  harness.fake.failNext({
    kind: "oauthError",
    error: "invalid_request",
    description: `could not parse client_secret=${encodeURIComponent(CLIENT_SECRET)} (${CLIENT_SECRET})`,
  });
  const error = await rejection(client.issue(credentialOf(CREDENTIALS)));
  assert.equal(error.code, "UPSTREAM_BAD_RESPONSE");
  assert.ok(
    harness.logs.some((line) => line.includes("invalid_request")),
    "the operator still sees what Aspose said",
  );
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});

test("every attempt and the whole call are reported to the observer", async (t) => {
  const { harness, client, attempts, calls } = await connector(t);
  harness.fake.failNext({ kind: "status", status: 503 }, 2);
  await client.issue(credentialOf(CREDENTIALS));
  assert.equal(harness.fake.totalTokenRequests, 3);
  assert.deepEqual(attempts, ["5xx", "5xx", "2xx"]);
  assert.deepEqual(calls, ["2xx"]);
});

test("a custom token path and retry limit are used as configured", async (t) => {
  const { harness, client } = await connector(t, { tokenPath: "/connect/token", retryLimit: 1 });
  harness.fake.setFault({ kind: "status", status: 502 });
  assert.equal((await rejection(client.issue(credentialOf(CREDENTIALS)))).code, "UPSTREAM_UNAVAILABLE");
  assert.equal(harness.fake.totalTokenRequests, 2);
  assert.deepEqual(
    harness.fake.requests.map((request) => request.path),
    ["/connect/token", "/connect/token"],
  );
  assert.equal(client.tokenUrl, `${harness.fake.url}/connect/token`);
});
