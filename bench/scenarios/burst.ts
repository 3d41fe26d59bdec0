/** (e) cold burst: 1,000 simultaneous requests for one credential. */
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { ChildServer } from "../lib/child-server.js";
import { burst, indexedBatch } from "../lib/http-client.js";
import { log } from "../lib/log.js";
import { lookupsSince, scrape } from "../lib/metrics.js";
import { tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed, median, percentile } from "../lib/stats.js";
import { TARGETS, verdict } from "../lib/verdict.js";
import { noErrors, SECRET, SETTINGS } from "../settings.js";
import { serviceSpec } from "./service.js";

/** Resolves with `promise`, or rejects when it takes longer than `ms`: a broken scenario must not hang the run. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sends cold bursts for one credential each and counts the upstream calls. */
export async function burstGroup(placement: Placement, fake: FakeAspose, results: Results): Promise<void> {
  // 1,000 callers would come from as many addresses; here they share the bench's one, with its
  // other connections (warm-up, metrics): no per-address limit.
  const server = await ChildServer.start(
    serviceSpec("burst", placement.serverCore, fake.url, { MAX_CONNECTIONS_PER_ADDRESS: "1000000" }),
  );
  const calls: number[] = [];
  const p50s: number[] = [];
  const p99s: number[] = [];
  const rps: number[] = [];
  const cpu: number[] = [];
  let errors = 0;
  let bad = 0;
  let non2xx = 0;
  const lookups = { hit: 0, miss: 0, joined: 0 };
  try {
    // Warm the path with a credential of its own.
    fake.addClient("bench-burst-warmup", SECRET);
    await indexedBatch({
      url: `${server.origin}/graphql`,
      from: 0,
      to: 2000,
      concurrency: 16,
      bodyFor: () => tokenRequestBody("bench-burst-warmup", SECRET),
      verify: (answer) => noErrors(answer.body),
    });
    for (let rep = 1; rep <= SETTINGS.burstRepetitions; rep++) {
      const clientId = `bench-burst-${rep}`;
      fake.addClient(clientId, SECRET);
      const metricsBefore = await scrape(server.origin);
      const cpuBefore = server.cpuSeconds();
      // Hold the upstream until every request is on the wire and the server has had time to read
      // them all: every one is then concurrent with the single upstream call, the strictest test.
      const upstreamBefore = fake.totalTokenRequests;
      const release = fake.hold();
      const inFlight = burst(
        `${server.origin}/graphql`,
        tokenRequestBody(clientId, SECRET),
        SETTINGS.burstSize,
      );
      await within(30_000, inFlight.written, "the burst to be sent");
      await within(10_000, fake.waitForRequests(upstreamBefore + 1), "the upstream call");
      // Connections past the listen backlog are accepted late: wait until the server has read them all.
      await server.waitIdle();
      const releasedAt = performance.now();
      release();
      const answers = await inFlight.answers;
      const latencies: number[] = [];
      for (const answer of answers) {
        if (answer instanceof Error) {
          errors += 1;
          continue;
        }
        latencies.push(answer.at - releasedAt);
        if (answer.status !== 200) non2xx += 1;
        else if (!noErrors(answer.body) || !answer.body.includes('"accessToken":"')) bad += 1;
      }
      const lastMs = Math.max(...latencies);
      cpu.push(((server.cpuSeconds() - cpuBefore) * 1e6) / SETTINGS.burstSize);
      const delta = lookupsSince(metricsBefore, await scrape(server.origin));
      lookups.hit += delta.hit;
      lookups.miss += delta.miss;
      lookups.joined += delta.joined;
      calls.push(fake.countFor(clientId));
      p50s.push(percentile(latencies, 50));
      p99s.push(percentile(latencies, 99));
      rps.push(latencies.length / (lastMs / 1000));
      log(
        `burst ${rep}/${SETTINGS.burstRepetitions}: ${fake.countFor(clientId)} upstream call(s); ` +
          `last answer ${fixed(lastMs, 0)} ms after the upstream answered ` +
          `(joined ${delta.joined}, hit ${delta.hit}, miss ${delta.miss})`,
      );
    }
    const ok =
      calls.every((count) => count === TARGETS.burstUpstreamCalls) &&
      errors === 0 &&
      bad === 0 &&
      non2xx === 0;
    results.rows.push({
      scenario: `(e) cold burst, ${SETTINGS.burstSize} concurrent, one credential`,
      rps: median(rps),
      versus: `joined ${lookups.joined}, hit ${lookups.hit}, miss ${lookups.miss}`,
      p50Ms: median(p50s),
      p99Ms: median(p99s),
      cpuUs: median(cpu),
      rssBytes: server.rssBytes(),
      errors,
      non2xx,
      bad,
      upstream: calls.join(", "),
      target: "exactly 1 upstream call",
      verdict: verdict(ok),
    });
    results.targets.push({
      name: `cold burst of ${SETTINGS.burstSize}: exactly 1 upstream call (each of ${SETTINGS.burstRepetitions} bursts)`,
      measured: `upstream calls per burst: ${calls.join(", ")}`,
      verdict: verdict(ok),
    });
    results.notes.push(
      "(e) the fake upstream is held until all requests are on the wire; latencies and req/s count from the " +
        "moment it answers (the fan-out of one token to every waiting caller).",
    );
  } finally {
    await server.stop();
  }
}
