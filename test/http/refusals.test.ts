/**
 * Refused documents: answered the same way every time (the second time from the refusal cache), never
 * reaching Aspose, and never echoing a secret typed into a malformed document.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  post,
  requestToken,
  startHarness,
} from "../support/harness.js";

let harness: Harness;
before(async () => {
  harness = await startHarness();
});
after(async () => {
  await harness.close();
});

const overLimit = JSON.stringify({
  query: `mutation ($id: String!, $s: String!) {
    a: accessToken(clientId: $id, clientSecret: $s) { expiresIn }
    b: accessToken(clientId: $id, clientSecret: $s) { expiresIn }
    c: accessToken(clientId: $id, clientSecret: $s) { expiresIn }
    d: accessToken(clientId: $id, clientSecret: $s) { expiresIn }
  }`,
  variables: { id: CLIENT_ID, s: CLIENT_SECRET },
});

test("a repeated over-limit operation gets the same coded refusal every time, without reaching Aspose", async () => {
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await post(harness, overLimit));
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assert.equal(answer.text, answers[0]?.text);
    assert.equal(answer.headers.get("cache-control"), "no-store");
    assert.match(answer.text, /"code":"BAD_USER_INPUT"/);
  }
  assert.equal(harness.fake.totalTokenRequests, 0);
  // A valid operation is unaffected by the remembered refusal.
  const served = await requestToken(harness);
  assert.equal(served.errors, undefined);
  assert.equal(harness.fake.totalTokenRequests, 1);
});

test("a refusal depends on the document only: the same valid document with bad variables is not refused from memory", async () => {
  const query =
    "mutation ($id: String!, $s: String!) { accessToken(clientId: $id, clientSecret: $s) { expiresIn } }";
  const wrongType = await post(harness, JSON.stringify({ query, variables: { id: CLIENT_ID, s: 12345 } }));
  assert.equal(wrongType.status, 200);
  assert.match(wrongType.text, /"code":"BAD_USER_INPUT"/);
  const right = await post(
    harness,
    JSON.stringify({ query, variables: { id: CLIENT_ID, s: CLIENT_SECRET } }),
  );
  assert.equal(right.status, 200);
  assert.doesNotMatch(right.text, /errors/);
});

test("a secret typed into a malformed document is not echoed in the syntax error", async () => {
  const secret = "TypedInlineSecret-7f3a9c";
  for (let i = 0; i < 2; i++) {
    const answer = await post(
      harness,
      JSON.stringify({ query: `mutation { accessToken(clientId: "x" "${secret}") { expiresIn } }` }),
    );
    assert.equal(answer.status, 200);
    assert.match(answer.text, /GRAPHQL_PARSE_FAILED/);
    assert.ok(!answer.text.includes(secret), answer.text);
  }
  assert.ok(!harness.logs.some((line) => line.includes(secret)));
});

test("a valid document as long as a refused one is served, not answered from the refusal memory", async () => {
  const valid =
    "mutation ($id: String!, $s: String!) { accessToken(clientId: $id, clientSecret: $s) { expiresIn } }";
  // The same length, one letter apart: an unknown field, refused by validation.
  const refused = valid.replace("expiresIn", "expiresXn");
  assert.equal(refused.length, valid.length);
  for (let i = 0; i < 2; i++) {
    const answer = await post(
      harness,
      JSON.stringify({ query: refused, variables: { id: CLIENT_ID, s: CLIENT_SECRET } }),
    );
    assert.match(answer.text, /"code":"GRAPHQL_VALIDATION_FAILED"/);
  }
  const served = await post(
    harness,
    JSON.stringify({ query: valid, variables: { id: CLIENT_ID, s: CLIENT_SECRET } }),
  );
  assert.equal(served.status, 200);
  assert.match(served.text, /"expiresIn":\d+/);
  assert.doesNotMatch(served.text, /errors/);
});
