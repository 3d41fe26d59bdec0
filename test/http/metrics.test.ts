/**
 * /metrics after exercising every path that counts something: success, cache hit, a joined in-flight
 * fetch, an upstream retry, bad input, invalid credentials, a lockout. Values are read from the real
 * Prometheus text; no clientId, secret or token may appear in it.
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
  TestClock,
} from "../support/harness.js";

const WRONG_SECRET = "0000aaaa1111bbbb2222cccc3333dddd";

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Parses Prometheus text exposition lines into samples (comments skipped). */
function parseMetrics(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1] ?? ""] = pair[2] ?? "";
    }
    samples.push({ name: match[1] ?? "", labels, value: Number(match[3]) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels`; 0 when absent. */
function value(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (sample) =>
      sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

let harness: Harness;
const tokens: string[] = [];
let metricsText = "";
let contentType = "";

before(async () => {
  const clock = new TestClock();
  // Back-to-back forced refreshes drive the upstream paths: no FORCE_REFRESH_MIN_INTERVAL_SECONDS bound.
  harness = await startHarness({
    clock,
    env: { LOCKOUT_THRESHOLD: "2", FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0" },
  });
  const cache = harness.store;
  const ok = (result: Awaited<ReturnType<typeof requestToken>>): void => {
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    tokens.push(result.data?.accessToken.accessToken ?? "");
  };

  // miss, then hit
  ok(await requestToken(harness));
  ok(await requestToken(harness));

  // a second request joins the first one's in-flight fetch
  const release = harness.fake.hold();
  const entered = cache.count;
  const leader = requestToken(harness, { forceRefresh: true });
  const follower = requestToken(harness, { forceRefresh: true });
  await cache.entered(entered + 2);
  release();
  ok(await leader);
  ok(await follower);
  assert.equal(harness.fake.totalTokenRequests, 2);

  // one 503, retried, then a token: two attempts, one call
  harness.fake.failNext({ kind: "status", status: 503 });
  ok(await requestToken(harness, { forceRefresh: true }));
  assert.equal(harness.fake.totalTokenRequests, 4);

  // refused before any upstream call
  const blank = await requestToken(harness, { clientId: "   " });
  assert.equal(blank.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  const unparsable = await post(harness, JSON.stringify({ query: "mutation {" }));
  assert.equal(unparsable.status, 200);
  assert.match(unparsable.text, /GRAPHQL_PARSE_FAILED/);

  // two invalid_client answers lock the client out (LOCKOUT_THRESHOLD=2); the third is refused locally
  for (let i = 0; i < 2; i++) {
    const wrong = await requestToken(harness, { clientSecret: WRONG_SECRET });
    assert.equal(wrong.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS");
  }
  const locked = await requestToken(harness, { clientSecret: WRONG_SECRET });
  assert.equal(locked.errors?.[0]?.extensions?.code, "TOO_MANY_ATTEMPTS");
  assert.equal(harness.fake.totalTokenRequests, 6);

  const response = await fetch(`${harness.origin}/metrics`);
  assert.equal(response.status, 200);
  contentType = response.headers.get("content-type") ?? "";
  metricsText = await response.text();
});

after(async () => {
  await harness.close();
});

test("/metrics is Prometheus text", () => {
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  assert.doesNotThrow(() => parseMetrics(metricsText));
  // The in-process harness turns default process metrics off; the process test checks them on.
  assert.doesNotMatch(metricsText, /^process_cpu_user_seconds_total/m);
});

test("graphql_requests_total counts requests by outcome", () => {
  const samples = parseMetrics(metricsText);
  assert.equal(value(samples, "graphql_requests_total", { outcome: "ok" }), 5);
  assert.equal(value(samples, "graphql_requests_total", { outcome: "BAD_USER_INPUT" }), 1);
  assert.equal(value(samples, "graphql_requests_total", { outcome: "GRAPHQL_PARSE_FAILED" }), 1);
  assert.equal(value(samples, "graphql_requests_total", { outcome: "INVALID_CREDENTIALS" }), 2);
  assert.equal(value(samples, "graphql_requests_total", { outcome: "TOO_MANY_ATTEMPTS" }), 1);
});

test("aspose_upstream_attempts_total counts every attempt, retries included, by status class", () => {
  const samples = parseMetrics(metricsText);
  assert.equal(value(samples, "aspose_upstream_attempts_total", { status_class: "2xx" }), 3);
  assert.equal(value(samples, "aspose_upstream_attempts_total", { status_class: "5xx" }), 1);
  assert.equal(value(samples, "aspose_upstream_attempts_total", { status_class: "4xx" }), 2);
});

test("aspose_upstream_call_duration_seconds is a histogram of whole calls", () => {
  const samples = parseMetrics(metricsText);
  assert.match(metricsText, /^# TYPE aspose_upstream_call_duration_seconds histogram$/m);
  // The retried call is one call: three successful calls, two rejected ones.
  assert.equal(value(samples, "aspose_upstream_call_duration_seconds_count", { outcome: "2xx" }), 3);
  assert.equal(value(samples, "aspose_upstream_call_duration_seconds_count", { outcome: "4xx" }), 2);
  assert.equal(
    value(samples, "aspose_upstream_call_duration_seconds_bucket", { outcome: "2xx", le: "+Inf" }),
    3,
  );
  assert.ok(value(samples, "aspose_upstream_call_duration_seconds_sum", { outcome: "2xx" }) > 0);
});

test("token_cache_lookups_total counts hit, miss and joined", () => {
  const samples = parseMetrics(metricsText);
  assert.equal(value(samples, "token_cache_lookups_total", { result: "miss" }), 3);
  assert.equal(value(samples, "token_cache_lookups_total", { result: "hit" }), 1);
  assert.equal(value(samples, "token_cache_lookups_total", { result: "joined" }), 1);
});

test("token_cache_entries reports the tokens held", () => {
  const samples = parseMetrics(metricsText);
  // One credential was cached (and refreshed in place); wrong secrets are never cached.
  assert.equal(value(samples, "token_cache_entries", {}), 1);
});

test("credential_lockouts_total counts the lockout", () => {
  const samples = parseMetrics(metricsText);
  assert.equal(value(samples, "credential_lockouts_total", { subject: "client" }), 1);
  assert.equal(value(samples, "credential_lockouts_total", { subject: "address" }), 0);
});

test("no clientId, secret or token ever appears in the metrics text", () => {
  assert.equal(tokens.length, 5, "every successful request's token is checked");
  const secrets = [CLIENT_ID, CLIENT_SECRET, WRONG_SECRET, ...tokens];
  for (const token of tokens) secrets.push(...token.split("."));
  for (const secret of secrets) {
    assert.ok(secret.length >= 16, "every probe is long enough to be meaningful");
    assert.ok(!metricsText.includes(secret), "a credential or token reached /metrics");
  }
});
