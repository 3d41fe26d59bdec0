/**
 * The last places a secret was echoed (issue 12 point 6), each against the real service over real HTTP:
 * syntax errors quoting a string with escaped quotes, validation errors printing an enum, object or list
 * literal, variable errors for long variable names, and an upstream error code that repeats the secret.
 * Neither an answer nor a log line may carry the secret in any of them.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { HostileUpstream } from "../../dev/hostile-upstream.js";
import {
  CLIENT_ID,
  type Harness,
  harnessFor,
  leakedSecrets,
  post,
  startHarness,
} from "../support/harness.js";

const SECRET = "Zq7Wv9Kx3Jp5Yt8Hb";

interface Answer {
  status: number;
  text: string;
  errors: { message: string; extensions?: { code?: string } }[];
}

async function send(harness: Harness, body: unknown): Promise<Answer> {
  const { status, text } = await post(harness, JSON.stringify(body));
  const parsed = JSON.parse(text) as { errors?: Answer["errors"] };
  return { status, text, errors: parsed.errors ?? [] };
}

/** No part of the secret as long as 6 characters survives anywhere the client or the logs see. */
function assertNotEchoed(harness: Harness, secret: string): void {
  assert.deepEqual(leakedSecrets(harness, [secret]), []);
  for (let start = 0; start + 6 <= secret.length; start++) {
    const part = secret.slice(start, start + 6);
    assert.deepEqual(leakedSecrets(harness, [part]), [], `the fragment ${part} leaked`);
  }
}

describe("a secret in a malformed or mistyped request is never echoed", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(() => harness.close());
  // Each case is judged on its own answers and log lines.
  beforeEach(() => {
    harness.responses.length = 0;
    harness.logs.length = 0;
  });

  for (const literal of [
    `"y\\"${SECRET}"`,
    `"y\\\\\\"${SECRET}"`,
    `"\\"${SECRET}\\""`,
    `"""y\\"""${SECRET}"""`,
    `"\\q${SECRET}"`,
    `"\\u${SECRET}"`,
    `"\\u{${SECRET}}"`,
  ]) {
    test(`a syntax error after the string ${literal} does not quote it`, async () => {
      const answer = await send(harness, {
        query: `mutation { accessToken(clientId: "x" ${literal}) { expiresIn } }`,
      });
      assert.equal(answer.status, 200);
      assert.equal(answer.errors[0]?.extensions?.code, "GRAPHQL_PARSE_FAILED", answer.text);
      assert.match(answer.errors[0]?.message ?? "", /^Syntax Error: /);
      assertNotEchoed(harness, SECRET);
    });
  }

  test("a syntax error still says what was expected", async () => {
    const answer = await send(harness, { query: "mutation { accessToken(clientId: ) { expiresIn } }" });
    assert.equal(answer.errors[0]?.message, 'Syntax Error: Unexpected ")".');
    const name = await send(harness, { query: `mutation { accessToken(clientId: "a" "b") }` });
    assert.equal(name.errors[0]?.message, 'Syntax Error: Expected Name, found String "…".');
  });

  for (const literal of [
    `${SECRET}`,
    `{s: "${SECRET}"}`,
    `["${SECRET}"]`,
    `[{s: ${SECRET}}]`,
    `{${SECRET}: 1}`,
  ]) {
    for (const argument of ["clientSecret", "clientId", "minValidity", "forceRefresh"]) {
      test(`the literal ${literal} as ${argument} is refused without printing it`, async () => {
        const args = { clientId: '"id"', clientSecret: "$s", [argument]: literal };
        const answer = await send(harness, {
          query: `mutation ($s: String!) { accessToken(${Object.entries(args)
            .map(([name, value]) => `${name}: ${value}`)
            .join(", ")}) { expiresIn } }`,
          variables: { s: "variable-secret-value" },
        });
        assert.equal(answer.status, 200, answer.text);
        for (const error of answer.errors) {
          assert.ok(
            ["GRAPHQL_VALIDATION_FAILED", "BAD_USER_INPUT"].includes(error.extensions?.code ?? ""),
            answer.text,
          );
        }
        assertNotEchoed(harness, SECRET);
        assert.equal(harness.fake.totalTokenRequests, 0);
      });
    }
  }

  for (const length of [100, 101, 500]) {
    test(`a wrong-typed variable named with ${length} characters does not get its value echoed`, async () => {
      const name = `s${"x".repeat(length - 1)}`;
      for (const value of [918_273_645, { s: SECRET }, [SECRET], true]) {
        const answer = await send(harness, {
          query: `mutation ($id: String!, $${name}: String!) { accessToken(clientId: $id, clientSecret: $${name}) { expiresIn } }`,
          variables: { id: CLIENT_ID, [name]: value },
        });
        assert.equal(answer.status, 200);
        assert.equal(answer.errors[0]?.extensions?.code, "BAD_USER_INPUT", answer.text);
        assert.match(answer.errors[0]?.message ?? "", /not echoed/);
        assert.ok(!answer.text.includes("918273645"), answer.text);
        assertNotEchoed(harness, SECRET);
      }
    });
  }
});

test("an upstream 400 whose error code repeats the secret is logged without it", async (t) => {
  const upstream = await HostileUpstream.start();
  t.after(() => upstream.close());
  const harness = await harnessFor(t, { env: { ASPOSE_BASE_URL: upstream.url } });
  // A short secret: nothing token-shaped about it for a pattern to catch, only its own value.
  const secret = "Sh0rt-s3cr";
  for (const body of [
    { error: `invalid_secret:${secret}` },
    { error: "invalid_request", error_description: `bad client_secret ${secret}` },
    { error: `x"${secret}` },
    { [secret]: "field names are upstream text too" },
  ]) {
    upstream.setAnswer({ kind: "json", status: 400, body });
    const answer = await send(harness, {
      query:
        "mutation ($id: String!, $s: String!) { accessToken(clientId: $id, clientSecret: $s) { expiresIn } }",
      variables: { id: CLIENT_ID, s: secret },
    });
    assert.equal(answer.errors[0]?.extensions?.code, "UPSTREAM_BAD_RESPONSE", answer.text);
  }
  assert.ok(
    harness.logs.some((line) => line.includes("invalid_secret")),
    "the operator sees the code",
  );
  assert.deepEqual(leakedSecrets(harness, [secret]), []);
});
