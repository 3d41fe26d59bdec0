/**
 * The Apollo Router recipe, checked as text: the router is a binary download the suite does not run
 * (the Hive Gateway recipe runs for real in supergraph.test.ts). What is checked is what the subgraph
 * relies on: the request id and x-forwarded-for propagated to subgraphs, W3C trace context on, and an
 * exact composition version for rover.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parse } from "yaml";
import { REPO_ROOT } from "../support/process.js";

interface HeaderRule {
  propagate?: { named?: string; matching?: string };
}

function read(path: string): string {
  return readFileSync(join(REPO_ROOT, path), "utf8");
}

test("router.yaml propagates x-request-id and x-forwarded-for to every subgraph", () => {
  const config = parse(read("gateways/apollo-router/router.yaml")) as {
    headers?: { all?: { request?: HeaderRule[] } };
  };
  const named = (config.headers?.all?.request ?? []).map((rule) => rule.propagate?.named);
  assert.ok(named.includes("x-request-id"), "x-request-id is propagated");
  assert.ok(named.includes("x-forwarded-for"), "x-forwarded-for is propagated");
});

test("router.yaml continues the W3C trace context to subgraphs", () => {
  const config = parse(read("gateways/apollo-router/router.yaml")) as {
    telemetry?: { exporters?: { tracing?: { propagation?: { trace_context?: boolean } } } };
  };
  assert.equal(config.telemetry?.exporters?.tracing?.propagation?.trace_context, true);
});

test("supergraph.yaml and the federation doc pin the exact composition version the tests compose with", () => {
  const { version } = JSON.parse(read("node_modules/@apollo/composition/package.json")) as {
    version: string;
  };
  const config = parse(read("gateways/apollo-router/supergraph.yaml")) as { federation_version?: string };
  assert.equal(config.federation_version, `=${version}`);
  const doc = read("docs/federation.md");
  assert.match(doc, new RegExp(`federation_version: =${version.replaceAll(".", "\\.")}`));
  assert.doesNotMatch(doc, /federation_version: 2\s/);
});
