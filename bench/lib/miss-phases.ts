/**
 * `BENCH_PROFILE=miss-phases`: where a cache miss's time goes, phase by phase, wall clock against CPU.
 * The miss scenario's server runs with bench/servers/phase-marks.js preloaded and is asked one request at
 * a time, with the fake Aspose at each latency of the miss scenario (0 and 20 ms); each phase's median
 * wall time is set beside its mean CPU time, so a wait (wall well above CPU) stands out from work (the
 * two alike). Written to bench/results/profiles/miss-phases.txt.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { serviceSpec } from "../scenarios/service.js";
import type { Mark } from "../servers/phase-marks.js";
import { fetched, MISS_ID, RESULTS, ROOT, SECRET, SETTINGS, TOKEN_PATH } from "../settings.js";
import { ChildServer } from "./child-server.js";
import { sequentialProbe } from "./http-client.js";
import { tokenRequestBody, upstreamFormBody } from "./operations.js";
import type { Placement } from "./placement.js";
import { fixed, median, percentile } from "./stats.js";

/** One upstream latency's run: how many requests, the first `warmUp` of them not counted. */
interface Leg {
  readonly latencyMs: number;
  readonly count: number;
  readonly warmUp: number;
  clientP50Ms: number;
  upstreamP50Ms: number;
}

/** Runs the probe and returns the phase tables as text (also written next to the CPU profiles). */
export async function missPhases(placement: Placement, fake: FakeAspose): Promise<string> {
  const out = join(RESULTS, "profiles", "miss-phases.json");
  rmSync(out, { force: true });
  const preload = pathToFileURL(join(ROOT, "dist/bench/servers/phase-marks.js")).href;
  const server = await ChildServer.start(
    serviceSpec(
      "miss-phases",
      placement.serverCore,
      fake.url,
      { TOKEN_CACHE: "off", BENCH_PHASES_OUT: out },
      [`--import=${preload}`],
    ),
  );
  // The miss scenario's latencies; as many requests at 0 ms as a profile's 200 a second, 4× the miss
  // scenario's count at the others.
  const legs: Leg[] = Object.entries(SETTINGS.missProbes).map(([latency, probes]) => {
    const count = Number(latency) === 0 ? SETTINGS.profileSeconds * 200 : probes * 4;
    return {
      latencyMs: Number(latency),
      count,
      warmUp: Math.floor(count / 4),
      clientP50Ms: Number.NaN,
      upstreamP50Ms: Number.NaN,
    };
  });
  try {
    for (const leg of legs) {
      fake.setLatency(leg.latencyMs);
      const probe = await sequentialProbe({
        url: `${server.origin}/graphql`,
        body: tokenRequestBody(MISS_ID, SECRET),
        count: leg.count,
        expectStatus: 200,
        verify: fetched,
      });
      if (probe.errors + probe.wrongStatus + probe.badBodies > 0)
        throw new Error("miss-phases: wrong answers");
      leg.clientP50Ms = percentile(probe.latenciesMs.slice(leg.warmUp), 50);
      const direct = await sequentialProbe({
        url: `${fake.url}${TOKEN_PATH}`,
        body: upstreamFormBody(MISS_ID, SECRET),
        contentType: "application/x-www-form-urlencoded",
        count: leg.count - leg.warmUp,
        expectStatus: 200,
        verify: (body) => body.includes("access_token"),
      });
      leg.upstreamP50Ms = percentile(direct.latenciesMs, 50);
    }
  } finally {
    fake.setLatency(0);
    await server.stop();
  }
  // The preload's output: one list of marks per request, in the order the legs sent them.
  const requests = JSON.parse(readFileSync(out, "utf8")) as Mark[][];
  const tables: string[] = [];
  let first = 0;
  for (const leg of legs) {
    const counted = requests.slice(first + leg.warmUp, first + leg.count);
    first += leg.count;
    tables.push(
      `miss-phases @ ${leg.latencyMs} ms: ${counted.length} cache misses one at a time; client p50 ` +
        `${fixed(leg.clientP50Ms, 3)} ms, upstream alone p50 ${fixed(leg.upstreamP50Ms, 3)} ms ` +
        `(+${fixed(leg.clientP50Ms - leg.upstreamP50Ms, 3)} ms)`,
      ...phaseRows(counted),
    );
  }
  const text = tables.join("\n");
  writeFileSync(join(RESULTS, "profiles", "miss-phases.txt"), `${text}\n`);
  return text;
}

/** One line per phase nearly every request went through: median wall time, mean CPU time. */
function phaseRows(requests: readonly Mark[][]): string[] {
  const phases = new Map<string, { wallUs: number[]; cpuUs: number[] }>();
  for (const marks of requests) {
    for (let i = 1; i < marks.length; i++) {
      const from = marks[i - 1];
      const to = marks[i];
      if (from === undefined || to === undefined) continue;
      const name = `${from[0]} → ${to[0]}`;
      const phase = phases.get(name) ?? { wallUs: [], cpuUs: [] };
      phase.wallUs.push((to[1] - from[1]) * 1000);
      phase.cpuUs.push(to[2] - from[2]);
      phases.set(name, phase);
    }
  }
  const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  return (
    [...phases.entries()]
      // A retry's extra marks are not a phase.
      .filter(([, phase]) => phase.wallUs.length >= requests.length * 0.9)
      .map(
        ([name, phase]) =>
          `  ${name.padEnd(52)} wall p50 ${fixed(median(phase.wallUs), 0).padStart(6)} µs  ` +
          `CPU mean ${fixed(mean(phase.cpuUs), 0).padStart(5)} µs`,
      )
  );
}
