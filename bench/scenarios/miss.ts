/** (d) cache miss: p50 against the upstream's own p50, interleaved. */
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { ChildServer } from "../lib/child-server.js";
import { post, sequentialProbe } from "../lib/http-client.js";
import { log } from "../lib/log.js";
import { tokenRequestBody, upstreamFormBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed, median, percentile } from "../lib/stats.js";
import { TARGETS, verdict } from "../lib/verdict.js";
import { cacheHit, fetched, MISS_ID, SECRET, SETTINGS, TOKEN_PATH } from "../settings.js";
import { serviceSpec } from "./service.js";

/** One upstream latency's figures across the repetitions of (d). */
interface MissSeries {
  /** Upstream-alone p50 per repetition, ms. */
  readonly direct: number[];
  readonly directP99: number[];
  /** Through-the-service p50 per repetition, ms. */
  readonly via: number[];
  /** via − direct per repetition, ms. */
  readonly overhead: number[];
  /** Through-the-service latencies per repetition. */
  readonly all: number[][];
  readonly cpu: number[];
  readonly rps: number[];
  upstream: number;
  sent: number;
  errors: number;
  bad: number;
  rss: number;
}

function newMissSeries(): MissSeries {
  return {
    direct: [],
    directP99: [],
    via: [],
    overhead: [],
    all: [],
    cpu: [],
    rps: [],
    upstream: 0,
    sent: 0,
    errors: 0,
    bad: 0,
    rss: 0,
  };
}

/** Probes the upstream alone, the service on a miss and the service on a hit, one request at a time. */
export async function missGroup(placement: Placement, fake: FakeAspose, results: Results): Promise<void> {
  const server = await ChildServer.start(
    serviceSpec("miss", placement.serverCore, fake.url, { TOKEN_CACHE: "off" }),
  );
  // The same request answered from the cache, one at a time: the service's own round trip, which a
  // miss pays on top of the upstream's. The rest of a miss's overhead is the connector and limiter.
  const hitServer = await ChildServer.start(serviceSpec("miss-hit", placement.serverCore, fake.url));
  const direct = (count: number) =>
    sequentialProbe({
      url: `${fake.url}${TOKEN_PATH}`,
      body: upstreamFormBody(MISS_ID, SECRET),
      contentType: "application/x-www-form-urlencoded",
      count,
      expectStatus: 200,
      verify: (body) => body.includes("access_token"),
    });
  const viaService = (count: number) =>
    sequentialProbe({
      url: `${server.origin}/graphql`,
      body: tokenRequestBody(MISS_ID, SECRET),
      count,
      expectStatus: 200,
      verify: fetched,
    });
  const hits = (count: number) =>
    sequentialProbe({
      url: `${hitServer.origin}/graphql`,
      body: tokenRequestBody(MISS_ID, SECRET),
      count,
      expectStatus: 200,
      verify: cacheHit,
    });
  const hitP50: number[] = [];
  const hitP99: number[] = [];
  const hitCpu: number[] = [];
  let hitBad = 0;
  try {
    fake.setLatency(0);
    log("warm-up miss");
    await post(`${hitServer.origin}/graphql`, tokenRequestBody(MISS_ID, SECRET), false);
    await direct(100);
    await viaService(200);
    await hits(200);
    const latencies = Object.keys(SETTINGS.missProbes).map(Number);
    const series = new Map<number, MissSeries>(latencies.map((latency) => [latency, newMissSeries()]));
    for (let rep = 1; rep <= SETTINGS.repetitions; rep++) {
      const hitCount = SETTINGS.missProbes[0] ?? 100;
      const hitCpuBefore = hitServer.cpuSeconds();
      const hitProbe = await hits(hitCount);
      hitCpu.push(((hitServer.cpuSeconds() - hitCpuBefore) * 1e6) / hitCount);
      hitP50.push(percentile(hitProbe.latenciesMs, 50));
      hitP99.push(percentile(hitProbe.latenciesMs, 99));
      hitBad += hitProbe.errors + hitProbe.wrongStatus + hitProbe.badBodies;
      for (const latency of latencies) {
        const result = series.get(latency);
        const count = SETTINGS.missProbes[latency] ?? 100;
        if (result === undefined) continue;
        fake.setLatency(latency);
        const upstreamProbe = await direct(count);
        const upstream = percentile(upstreamProbe.latenciesMs, 50);
        const callsBefore = fake.countFor(MISS_ID);
        const cpuBefore = server.cpuSeconds();
        const via = await viaService(count);
        const cpu = ((server.cpuSeconds() - cpuBefore) * 1e6) / count;
        result.upstream += fake.countFor(MISS_ID) - callsBefore;
        result.sent += count;
        const p50 = percentile(via.latenciesMs, 50);
        result.direct.push(upstream);
        result.directP99.push(percentile(upstreamProbe.latenciesMs, 99));
        result.via.push(p50);
        result.overhead.push(p50 - upstream);
        result.all.push(via.latenciesMs);
        result.cpu.push(cpu);
        result.rps.push(via.latenciesMs.length / via.seconds);
        result.errors += via.errors;
        result.bad += via.wrongStatus + via.badBodies;
        result.rss = server.rssBytes();
        log(
          `rep ${rep}/${SETTINGS.repetitions} miss @${latency} ms: upstream p50 ${fixed(upstream, 2)} ms, ` +
            `service p50 ${fixed(p50, 2)} ms (+${fixed(p50 - upstream, 2)} ms), cpu ${fixed(cpu, 0)} µs/req`,
        );
      }
    }
    fake.setLatency(0);
    results.rows.push({
      scenario: "(d) service, cache hit (1 conn): its own round trip",
      rps: median(hitP50.map((p50) => 1000 / p50)),
      versus: "",
      p50Ms: median(hitP50),
      p99Ms: median(hitP99),
      cpuUs: median(hitCpu),
      rssBytes: hitServer.rssBytes(),
      errors: 0,
      non2xx: 0,
      bad: hitBad,
      upstream: "",
      target: "",
      verdict: "",
    });
    for (const latency of latencies) {
      const result = series.get(latency);
      if (result === undefined) continue;
      const overhead = median(result.overhead);
      const ok =
        overhead <= TARGETS.missOverheadMs &&
        result.errors === 0 &&
        result.bad === 0 &&
        result.upstream === result.sent;
      results.rows.push({
        scenario: `(d) upstream alone @ ${latency} ms (baseline)`,
        rps: median(result.direct.map((p50) => 1000 / p50)),
        versus: "",
        p50Ms: median(result.direct),
        p99Ms: median(result.directP99),
        cpuUs: Number.NaN,
        rssBytes: Number.NaN,
        errors: 0,
        non2xx: 0,
        bad: 0,
        upstream: "",
        target: "",
        verdict: "",
      });
      results.rows.push({
        scenario: `(d) service, cache miss @ ${latency} ms (1 conn)`,
        rps: median(result.rps),
        versus: `+${fixed(overhead, 2)} ms over upstream p50`,
        p50Ms: median(result.via),
        p99Ms: median(result.all.map((list) => percentile(list, 99))),
        cpuUs: median(result.cpu),
        rssBytes: result.rss,
        errors: result.errors,
        non2xx: 0,
        bad: result.bad,
        upstream: `${result.upstream}/${result.sent}`,
        target: "p50 ≤ upstream + 1 ms",
        verdict: verdict(ok),
      });
      results.targets.push({
        name: `cache miss p50 ≤ upstream p50 + 1 ms (upstream latency ${latency} ms)`,
        measured: `+${fixed(overhead, 2)} ms (upstream ${fixed(median(result.direct), 2)} ms, service ${fixed(median(result.via), 2)} ms)`,
        verdict: verdict(ok),
      });
    }
  } finally {
    fake.setLatency(0);
    await Promise.all([server.stop(), hitServer.stop()]);
  }
}
