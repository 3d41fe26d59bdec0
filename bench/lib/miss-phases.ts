/**
 * `BENCH_PROFILE=miss-phases`: where a cache miss's time goes, phase by phase, wall clock against CPU.
 * The miss scenario's server runs with bench/servers/phase-marks.js preloaded and is asked one request at
 * a time; each phase's median wall time is set beside its mean CPU time, so a wait (wall well above
 * CPU) stands out from work (the two alike). Written to bench/results/profiles/miss-phases.txt.
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

/** Runs the probe and returns the phase table as text (also written next to the CPU profiles). */
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
  const count = SETTINGS.profileSeconds * 200;
  const warmUp = Math.floor(count / 4);
  let clientP50: number;
  let upstreamP50: number;
  try {
    fake.setLatency(0);
    const probe = await sequentialProbe({
      url: `${server.origin}/graphql`,
      body: tokenRequestBody(MISS_ID, SECRET),
      count,
      expectStatus: 200,
      verify: fetched,
    });
    clientP50 = percentile(probe.latenciesMs.slice(warmUp), 50);
    const direct = await sequentialProbe({
      url: `${fake.url}${TOKEN_PATH}`,
      body: upstreamFormBody(MISS_ID, SECRET),
      contentType: "application/x-www-form-urlencoded",
      count: count - warmUp,
      expectStatus: 200,
      verify: (body) => body.includes("access_token"),
    });
    upstreamP50 = percentile(direct.latenciesMs, 50);
  } finally {
    await server.stop();
  }
  // The preload's own output: one list of marks per request, in the order they were made.
  const requests = (JSON.parse(readFileSync(out, "utf8")) as Mark[][]).slice(warmUp);
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
  const rows = [...phases.entries()]
    // Only phases nearly every request went through (a retry's extra marks are not a phase).
    .filter(([, phase]) => phase.wallUs.length >= requests.length * 0.9)
    .map(
      ([name, phase]) =>
        `  ${name.padEnd(52)} wall p50 ${fixed(median(phase.wallUs), 0).padStart(5)} µs  ` +
        `CPU mean ${fixed(mean(phase.cpuUs), 0).padStart(5)} µs`,
    );
  const text = [
    `miss-phases: ${requests.length} cache misses one at a time, fake Aspose at 0 ms; ` +
      `client p50 ${fixed(clientP50, 3)} ms, upstream alone p50 ${fixed(upstreamP50, 3)} ms`,
    ...rows,
  ].join("\n");
  writeFileSync(join(RESULTS, "profiles", "miss-phases.txt"), `${text}\n`);
  return text;
}
