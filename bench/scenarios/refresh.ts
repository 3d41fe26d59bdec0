/**
 * (h) wait-free refresh and riding out an outage: one steady client over three token lifetimes (short
 * tokens from a fake of its own), then the same with Aspose down for the last half of a lifetime.
 * Real time, so the lifetimes are short; figures are counts and latencies against the upstream's own.
 */
import { Agent } from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import { FakeAspose } from "../../dev/fake-aspose.js";
import { ChildServer } from "../lib/child-server.js";
import { post } from "../lib/http-client.js";
import { log } from "../lib/log.js";
import { tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed } from "../lib/stats.js";
import { verdict } from "../lib/verdict.js";
import { QUICK, SECRET, TOKEN_PATH } from "../settings.js";
import { serviceSpec } from "./service.js";

const LIFETIME_S = QUICK ? 12 : 20;
const UPSTREAM_LATENCY_MS = 50;
const INTERVAL_MS = 100;
const CLIENT = "bench-refresh-client";

interface Run {
  readonly answers: number;
  readonly errors: number;
  /** Answers after the first that were not served from the cache: they waited on Aspose. */
  readonly waited: number;
  readonly maxAfterFirstMs: number;
  readonly tokens: number;
  readonly upstreamCalls: number;
}

/** Requests a token every INTERVAL_MS for `seconds`; `at(elapsedMs)` may change the upstream. */
async function steadyClient(
  origin: string,
  fake: FakeAspose,
  seconds: number,
  at?: (ms: number) => void,
): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const body = tokenRequestBody(CLIENT, SECRET);
  const started = performance.now();
  const before = fake.countFor(CLIENT);
  const tokens = new Set<string>();
  let answers = 0;
  let errors = 0;
  let waited = 0;
  let maxAfterFirstMs = 0;
  try {
    while (performance.now() - started < seconds * 1000) {
      at?.(performance.now() - started);
      const sent = performance.now();
      const answer = await post(`${origin}/graphql`, body, agent);
      const ms = performance.now() - sent;
      answers += 1;
      const parsed = JSON.parse(answer.body) as {
        data?: { accessToken?: { accessToken: string; fromCache: boolean } } | null;
      };
      const served = parsed.data?.accessToken;
      if (served === undefined) errors += 1;
      else tokens.add(served.accessToken);
      if (answers > 1) {
        maxAfterFirstMs = Math.max(maxAfterFirstMs, ms);
        // A token not from the cache was fetched (or joined a fetch) for this request: it waited.
        if (served !== undefined && !served.fromCache) waited += 1;
      }
      await delay(Math.max(0, INTERVAL_MS - ms));
    }
    // A background refresh started by the last answers ends after the loop: collect its token too, so
    // calls and tokens are counted over the same span.
    await delay(UPSTREAM_LATENCY_MS * 4);
    const last = JSON.parse((await post(`${origin}/graphql`, body, agent)).body) as {
      data?: { accessToken?: { accessToken: string } } | null;
    };
    const lastToken = last.data?.accessToken?.accessToken;
    if (lastToken !== undefined) tokens.add(lastToken);
  } finally {
    agent.destroy();
  }
  return {
    answers,
    errors,
    waited,
    maxAfterFirstMs,
    tokens: tokens.size,
    upstreamCalls: fake.countFor(CLIENT) - before,
  };
}

/** Runs both scenarios against one service with a 50 ms upstream of short-lived tokens. */
export async function refreshGroup(placement: Placement, results: Results): Promise<void> {
  const fake = await FakeAspose.start({ clients: { [CLIENT]: SECRET }, lifetimeSeconds: LIFETIME_S });
  fake.setLatency(UPSTREAM_LATENCY_MS);
  const server = await ChildServer.start(
    serviceSpec("refresh", placement.serverCore, fake.url, {
      ASPOSE_TOKEN_PATH: TOKEN_PATH,
      // Scaled to short tokens: hard margin max(2 s, 10 %), refresh-ahead max(1 s, 25 %) (the default ratio).
      TOKEN_REFRESH_MARGIN_SECONDS: "2",
      TOKEN_REFRESH_AHEAD_SECONDS: "1",
    }),
  );
  try {
    const steady = await steadyClient(server.origin, fake, 3 * LIFETIME_S);
    // Each token is replaced a quarter of its lifetime before expiry: one call per 0.75 lifetime, the
    // first at the start.
    const expected = Math.floor((3 * LIFETIME_S) / (0.75 * LIFETIME_S)) + 1;
    log(
      `refresh: ${steady.answers} answers, ${steady.upstreamCalls} upstream calls for ${steady.tokens} tokens, ` +
        `${steady.waited} waited, max ${fixed(steady.maxAfterFirstMs, 1)} ms after the first`,
    );
    results.notes.push(
      `(h) steady client, 3 lifetimes of ${LIFETIME_S} s, upstream ${UPSTREAM_LATENCY_MS} ms: ` +
        `${steady.upstreamCalls} upstream calls for ${steady.tokens} tokens (one per refresh-ahead cycle: ` +
        `${expected} expected), ${steady.waited} of ${steady.answers - 1} answers after the first waited on ` +
        `the upstream (slowest ${fixed(steady.maxAfterFirstMs, 1)} ms), ${steady.errors} errors.`,
    );
    results.targets.push({
      name: "(h) steady client: one upstream call per token, no wait after the first",
      measured: `${steady.upstreamCalls} calls / ${steady.tokens} tokens, ${steady.waited} waited`,
      verdict: verdict(steady.upstreamCalls === steady.tokens && steady.waited === 0 && steady.errors === 0),
    });

    // A fresh token, then Aspose down from half its lifetime on, until just before it expires (2 s
    // early: the JWT's exp is in whole seconds, so the token may live up to a second less).
    await delay(LIFETIME_S * 1000);
    const callsBefore = fake.totalTokenRequests;
    let down = false;
    const outage = await steadyClient(server.origin, fake, LIFETIME_S - 2, (ms) => {
      if (!down && ms >= (LIFETIME_S * 1000) / 2) {
        down = true;
        fake.setFault({ kind: "status", status: 503 });
      }
    });
    fake.setFault(undefined);
    const attempts = fake.totalTokenRequests - callsBefore;
    log(`outage: ${outage.answers} answers, ${outage.errors} errors, ${attempts} upstream attempts`);
    results.notes.push(
      `(h) the same with Aspose answering 503 for the last half of a ${LIFETIME_S} s lifetime: ` +
        `${outage.errors} errors in ${outage.answers} answers while the token was valid, ${attempts} upstream ` +
        `attempts in all (retries included), ${outage.waited} answers waited on the upstream.`,
    );
    results.targets.push({
      name: "(h) outage: no error while the token is valid, bounded attempts",
      measured: `${outage.errors} errors, ${attempts} attempts`,
      verdict: verdict(outage.errors === 0 && attempts <= 16),
    });
  } finally {
    await server.stop();
    await fake.close();
  }
}
