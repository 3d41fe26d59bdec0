/**
 * What the connector refuses to call a token, against a hostile upstream on loopback: non-2xx answers
 * (a redirect carrying a token body included), lifetimes out of range, and tokens already dead or about
 * to die when they arrive. Each refusal is UPSTREAM_BAD_RESPONSE, logged once with its reason, never
 * with the token.
 */

import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { HostileUpstream, tokenBody, unsignedJwt } from "../../dev/hostile-upstream.js";
import type { AsposeTokenClient } from "../../src/aspose/token-client.js";
import { MAX_TOKEN_LIFETIME_SECONDS, MIN_TOKEN_LIFETIME_SECONDS } from "../../src/aspose/wire.js";
import { codedRejection, testConnector } from "../support/connector.js";
import { testCredential } from "../support/credentials.js";

const CREDENTIALS = testCredential("0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77", "validation-s3cr3t");
// A fixed clock: the answer arrives the instant it was asked for, so lifetimes are exact.
const NOW_MS = Date.UTC(2026, 10, 25, 12, 0, 0);

interface Rig {
  readonly upstream: HostileUpstream;
  readonly client: AsposeTokenClient;
  readonly logs: string[];
}

async function rig(t: TestContext): Promise<Rig> {
  const upstream = await HostileUpstream.start();
  t.after(() => upstream.close());
  const logs: string[] = [];
  const client = testConnector(upstream.url, logs, { clock: () => NOW_MS });
  return { upstream, client, logs };
}

const refusal = codedRejection;

interface LogLine {
  level: number;
  msg: string;
  reason?: string;
}

/** Asserts one error line was written for this refusal, naming the reason, with no token or secret. */
function assertLoggedOnce(logs: string[], reason: RegExp, token: string): void {
  const errors = logs.map((line) => JSON.parse(line) as LogLine).filter((line) => line.level >= 50);
  assert.equal(errors.length, 1, JSON.stringify(errors));
  assert.match(errors[0]?.reason ?? "", reason);
  for (const line of logs) {
    assert.ok(!line.includes(token), "the refused token is never logged");
    assert.ok(!line.includes(token.split(".")[1] ?? "-"), "nor its claims");
    assert.ok(!line.includes(CREDENTIALS.exposeSecret()));
  }
}

for (const status of [301, 302, 303, 307, 308]) {
  test(`a ${status} whose body is a token is never a token, and is not followed`, async (t) => {
    const { upstream, client, logs } = await rig(t);
    const body = tokenBody({ nowMs: NOW_MS });
    upstream.setAnswer({
      kind: "json",
      status,
      body,
      headers: { location: `${upstream.url}/elsewhere` },
    });
    const error = await refusal(client.issue(CREDENTIALS));
    assert.equal(error.code, "UPSTREAM_BAD_RESPONSE");
    assert.equal(upstream.requests, 1, "a redirect would replay the secret to its Location");
    assertLoggedOnce(logs, /status/, String(body.access_token));
  });
}

test("a 2xx other than 200 with a token body is served: only non-2xx is refused", async (t) => {
  const { upstream, client } = await rig(t);
  upstream.setAnswer({ kind: "json", status: 201, body: tokenBody({ nowMs: NOW_MS }) });
  const token = await client.issue(CREDENTIALS);
  assert.equal(token.expiresAtMs, NOW_MS + 3_600_000);
});

for (const expiresIn of [
  2 ** 31,
  2 ** 31 - 1,
  2 ** 53,
  MAX_TOKEN_LIFETIME_SECONDS + 1,
  1,
  MIN_TOKEN_LIFETIME_SECONDS - 1,
  0,
  -60,
  1.5,
  3600.25,
  "3600",
  null,
]) {
  test(`expires_in ${JSON.stringify(expiresIn)} is out of range: UPSTREAM_BAD_RESPONSE`, async (t) => {
    const { upstream, client, logs } = await rig(t);
    // The JWT's exp agrees with expires_in wherever it can: only expires_in is at fault.
    const body = tokenBody({ nowMs: NOW_MS, expiresIn });
    upstream.setAnswer({ kind: "json", body });
    const error = await refusal(client.issue(CREDENTIALS));
    assert.equal(error.code, "UPSTREAM_BAD_RESPONSE");
    assert.equal(upstream.requests, 1, "a bad answer is not retried");
    assertLoggedOnce(logs, /expires_in/, String(body.access_token));
  });
}

for (const expiresIn of [MIN_TOKEN_LIFETIME_SECONDS, 604_800, MAX_TOKEN_LIFETIME_SECONDS]) {
  test(`expires_in ${expiresIn} is within range and served as given`, async (t) => {
    const { upstream, client } = await rig(t);
    upstream.setAnswer({ kind: "json", body: tokenBody({ nowMs: NOW_MS, expiresIn }) });
    const token = await client.issue(CREDENTIALS);
    assert.equal(token.expiresAtMs, NOW_MS + expiresIn * 1000);
  });
}

for (const { name, exp } of [
  { name: "an already expired JWT", exp: NOW_MS / 1000 - 3600 },
  { name: "a JWT whose exp is now", exp: NOW_MS / 1000 },
  { name: "a JWT that dies within seconds", exp: NOW_MS / 1000 + MIN_TOKEN_LIFETIME_SECONDS - 1 },
]) {
  test(`${name} (expires_in 3600) is too short-lived to serve: UPSTREAM_BAD_RESPONSE`, async (t) => {
    const { upstream, client, logs } = await rig(t);
    const accessToken = unsignedJwt({ nbf: NOW_MS / 1000 - 7200, exp });
    upstream.setAnswer({
      kind: "json",
      body: { access_token: accessToken, expires_in: 3600, token_type: "Bearer" },
    });
    const error = await refusal(client.issue(CREDENTIALS));
    assert.equal(error.code, "UPSTREAM_BAD_RESPONSE");
    assertLoggedOnce(logs, /lifetime|exp/, accessToken);
  });
}

test("a JWT exp just over the minimum still caps a longer expires_in and is served", async (t) => {
  const { upstream, client } = await rig(t);
  const exp = NOW_MS / 1000 + MIN_TOKEN_LIFETIME_SECONDS;
  const accessToken = unsignedJwt({ exp });
  upstream.setAnswer({
    kind: "json",
    body: { access_token: accessToken, expires_in: 3600, token_type: "Bearer" },
  });
  const token = await client.issue(CREDENTIALS);
  assert.equal(token.expiresAtMs, exp * 1000);
});

test("the range is what the issue asks: 10 s to 31 days", () => {
  assert.equal(MIN_TOKEN_LIFETIME_SECONDS, 10);
  assert.equal(MAX_TOKEN_LIFETIME_SECONDS, 31 * 86_400);
});
