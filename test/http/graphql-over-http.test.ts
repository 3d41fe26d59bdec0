/**
 * The GraphQL-over-HTTP spec's own audit (graphql-http's auditServer) against the real service: no
 * warning and no error. The three notices left are GET requests without a CSRF-safe header, refused
 * by Apollo's CSRF prevention: a stated security choice (docs/security.md), not a gap.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { auditServer } from "graphql-http";
import { type Harness, startHarness } from "../support/harness.js";

let harness: Harness;

before(async () => {
  harness = await startHarness();
});

after(async () => {
  await harness.close();
});

// MAY accept form-encoded GETs, MAY accept URL-encoded variables in GETs (either Accept): a simple GET
// is exactly what a cross-site form or <img> can send, so CSRF prevention refuses it.
const CSRF_REFUSED_GETS = new Set(["5A70", "D6D5", "6A70"]);

test("the graphql-http audit finds no warning and no error", async () => {
  const results = await auditServer({ url: harness.url });
  assert.ok(results.length > 50, `only ${results.length} audits ran`);
  const findings = results.filter((result) => result.status !== "ok");
  const unexplained = findings.filter(
    (result) => !(result.status === "notice" && CSRF_REFUSED_GETS.has(result.id)),
  );
  assert.deepEqual(
    unexplained.map((result) => `${result.status} ${result.id} ${result.name}`),
    [],
  );
});

test("the notices are CSRF prevention at work: the same GET with a preflight header is served", async () => {
  const search = new URLSearchParams({ query: "{ __typename }" });
  const plain = await fetch(`${harness.url}?${search}`, { headers: { accept: "application/json" } });
  assert.equal(plain.status, 400);
  assert.match(await plain.text(), /CSRF/);
  const preflighted = await fetch(`${harness.url}?${search}`, {
    headers: { accept: "application/json", "apollo-require-preflight": "true" },
  });
  assert.equal(preflighted.status, 200);
  assert.deepEqual(await preflighted.json(), { data: { __typename: "Query" } });
});
