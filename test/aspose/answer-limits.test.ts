/**
 * The connector against a hostile upstream on loopback (dev/hostile-upstream.ts): answers too large to be
 * a token, endless, trickling or gzip bombs are cut at the cap or the deadline, coded, and cost neither
 * memory nor event-loop time. Figures are measured in this process, which also hosts the upstream.
 */

import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { type HostileAnswer, HostileUpstream } from "../../dev/hostile-upstream.js";
import {
  type AsposeTokenClient,
  type AsposeTokenClientOptions,
  DEFAULT_MAX_RESPONSE_BYTES,
} from "../../src/aspose/token-client.js";
import { ServiceError } from "../../src/errors.js";
import { testConnector } from "../support/connector.js";
import { testCredential } from "../support/credentials.js";

const CREDENTIALS = testCredential("0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77", "hostile-test-s3cr3t");
const MiB = 1024 * 1024;
const TOTAL_TIMEOUT_MS = 4000;
// The stated bounds: a refused answer costs less than this much resident memory and event-loop time.
const RSS_BOUND_BYTES = 64 * MiB;
const LAG_BOUND_MS = 250;

interface Rig {
  readonly upstream: HostileUpstream;
  readonly client: AsposeTokenClient;
  readonly logs: string[];
}

async function rig(
  t: TestContext,
  answer: HostileAnswer,
  options: Partial<AsposeTokenClientOptions> = {},
): Promise<Rig> {
  const upstream = await HostileUpstream.start({ answer });
  t.after(() => upstream.close());
  const logs: string[] = [];
  const client = testConnector(upstream.url, logs, { totalTimeoutMs: TOTAL_TIMEOUT_MS, ...options });
  return { upstream, client, logs };
}

interface Measured {
  readonly error: ServiceError;
  readonly ms: number;
  readonly rssGrowthBytes: number;
  readonly maxLagMs: number;
}

/** Runs one refused call, sampling RSS and event-loop lag every 5 ms while it runs. */
async function measuredRefusal(work: () => Promise<unknown>): Promise<Measured> {
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let maxLagMs = 0;
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - last - 5);
    last = now;
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const started = performance.now();
  let error: unknown;
  try {
    await work();
  } catch (caught) {
    error = caught;
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - started;
  peak = Math.max(peak, process.memoryUsage().rss);
  assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
  return { error, ms, rssGrowthBytes: peak - baseline, maxLagMs };
}

function report(t: TestContext, what: string, measured: Measured): void {
  t.diagnostic(
    `${what}: ${measured.error.code} in ${Math.round(measured.ms)} ms, RSS +${(measured.rssGrowthBytes / MiB).toFixed(1)} MiB, max event-loop lag ${Math.round(measured.maxLagMs)} ms`,
  );
}

for (const { name, answer } of [
  {
    name: "a gzip bomb (1 MiB on the wire, 1 GiB inflated)",
    answer: { kind: "gzipBomb", inflatedBytes: 1024 * MiB },
  },
  { name: "an endless gzip bomb", answer: { kind: "gzipBomb", inflatedBytes: Number.POSITIVE_INFINITY } },
  { name: "an endless body", answer: { kind: "endless" } },
  { name: "a 64 MiB body with a valid token inside", answer: { kind: "huge", bytes: 64 * MiB } },
  {
    name: "a 64 MiB chunked body with a valid token inside",
    answer: { kind: "huge", bytes: 64 * MiB, contentLength: false },
  },
] satisfies { name: string; answer: HostileAnswer }[]) {
  test(`${name} is cut at the cap: UPSTREAM_BAD_RESPONSE, fast, memory flat`, async (t) => {
    const { upstream, client, logs } = await rig(t, answer);
    const measured = await measuredRefusal(() => client.issue(CREDENTIALS));
    report(t, name, measured);
    assert.equal(measured.error.code, "UPSTREAM_BAD_RESPONSE");
    assert.ok(measured.ms < 1000, `answered in ${measured.ms} ms`);
    assert.ok(measured.rssGrowthBytes < RSS_BOUND_BYTES, `RSS grew by ${measured.rssGrowthBytes} bytes`);
    assert.ok(measured.maxLagMs < LAG_BOUND_MS, `event loop blocked for ${measured.maxLagMs} ms`);
    // An oversized answer is not retried: it would only be as large again.
    assert.equal(upstream.requests, 1);
    assert.ok(
      logs.some((line) => line.includes("answer larger than")),
      "the operator is told why, once",
    );
    assert.ok(!logs.some((line) => line.includes(CREDENTIALS.exposeSecret())));
  });
}

test("the transfer itself stops at the cap: the upstream sees the connection cut", async (t) => {
  const { upstream, client } = await rig(t, { kind: "endless" });
  await assert.rejects(client.issue(CREDENTIALS), ServiceError);
  await upstream.waitForCut(1);
  const written = upstream.bytesWritten;
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(upstream.bytesWritten, written, "nothing more is written once the client has gone");
  // The cap plus what was already in flight in socket buffers, not an unbounded stream.
  assert.ok(written < 16 * MiB, `${written} bytes written`);
});

test("the cap is configurable, counted on inflated bytes, and a token under it is served", async (t) => {
  const { upstream, client } = await rig(t, { kind: "huge", bytes: 8 * 1024 }, { maxResponseBytes: 4096 });
  const refused = await measuredRefusal(() => client.issue(CREDENTIALS));
  assert.equal(refused.error.code, "UPSTREAM_BAD_RESPONSE");
  // 64 KiB inflated from well under 4 KiB on the wire: the inflated size is what counts.
  upstream.setAnswer({ kind: "gzipBomb", inflatedBytes: 1 * MiB });
  assert.equal((await measuredRefusal(() => client.issue(CREDENTIALS))).error.code, "UPSTREAM_BAD_RESPONSE");
  upstream.setAnswer({ kind: "huge", bytes: 3000 });
  const token = await client.issue(CREDENTIALS);
  assert.equal(token.tokenType, "Bearer");
  assert.equal(DEFAULT_MAX_RESPONSE_BYTES, 64 * 1024);
});

test("a body that trickles forever is cut at the deadline, which covers reading the body", async (t) => {
  const { upstream, client } = await rig(t, { kind: "trickle", intervalMs: 50 });
  const measured = await measuredRefusal(() => client.issue(CREDENTIALS));
  report(t, "a trickling body", measured);
  assert.equal(measured.error.code, "UPSTREAM_UNAVAILABLE");
  assert.ok(measured.ms < TOTAL_TIMEOUT_MS + 500, `answered in ${measured.ms} ms`);
  await upstream.waitForCut(upstream.requests);
});
