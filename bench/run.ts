import { mkdirSync } from "node:fs";
import type { FakeAspose } from "../dev/fake-aspose.js";
import { startBenchUpstream } from "./lib/bench-upstream.js";
import { compileForBench } from "./lib/build.js";
import { log } from "./lib/log.js";
import { type Placement, placeProcesses } from "./lib/placement.js";
import { report, writeReport } from "./lib/report.js";
import { Results } from "./lib/results.js";
import { fixed } from "./lib/stats.js";
import { missedAny } from "./lib/verdict.js";
import { burstGroup } from "./scenarios/burst.js";
import { floodsGroup } from "./scenarios/floods.js";
import { memoryGroup } from "./scenarios/memory.js";
import { missGroup } from "./scenarios/miss.js";
import { profile } from "./scenarios/profile.js";
import { refreshGroup } from "./scenarios/refresh.js";
import { throughputGroup } from "./scenarios/throughput.js";
import { GROUPS, PROFILE, RESULTS, SKIP_BUILD } from "./settings.js";

/** Compiles src/ and bench/servers/ to dist/, so no TypeScript loader runs inside a measured server. */
function build(): void {
  if (SKIP_BUILD) return;
  const started = performance.now();
  compileForBench();
  log(`built dist/ in ${fixed((performance.now() - started) / 1000, 1)} s`);
}

/** The groups in the order they run; BENCH_ONLY picks some. */
function groups(
  placement: Placement,
  fake: FakeAspose,
  token: string,
  results: Results,
): Array<[string, () => Promise<void>]> {
  return [
    ["throughput", () => throughputGroup(placement, fake, token, results)],
    ["miss", () => missGroup(placement, fake, results)],
    ["burst", () => burstGroup(placement, fake, results)],
    ["memory", () => memoryGroup(placement, results)],
    ["refresh", () => refreshGroup(placement, results)],
    ["floods", () => floodsGroup(placement, fake, results)],
  ];
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const placement = placeProcesses();
  log(placement.note);
  build();
  mkdirSync(RESULTS, { recursive: true });

  const { fake, token } = await startBenchUpstream();
  try {
    if (PROFILE.length > 0) {
      await profile(placement, fake, token);
      return;
    }
    const results = new Results();
    for (const [name, run] of groups(placement, fake, token, results)) {
      if (!GROUPS.has(name)) continue;
      try {
        await run();
      } catch (error) {
        // One broken group must not lose the others' results; it still fails the run.
        const message = error instanceof Error ? error.message : String(error);
        log(`${name} failed: ${message}`);
        results.targets.push({
          name: `${name} scenarios ran`,
          measured: message.slice(0, 300),
          verdict: "MISS",
        });
      }
    }

    writeReport(report(results, placement, startedAt, (Date.now() - startedAt.getTime()) / 1000));
    if (missedAny(results.targets)) process.exitCode = 1;
  } finally {
    await fake.close();
  }
}

await main();
