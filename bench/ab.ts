/**
 * `npm run bench:ab -- <git-ref>[,<git-ref>...] [scenario,...]`: the working tree against other commits,
 * each in the same run.
 *
 * Issue 16 asks for the before and after of each change as same-run figures; across runs the machine's
 * noise (±10 %) is larger than most single changes. This builds each `<git-ref>` in a throw-away worktree,
 * starts both builds of each scenario's server (hit and locked by default; any id from
 * bench/scenarios/throughput.ts), and loads them in interleaved rounds (before, after; after, before; …).
 * It prints, per scenario, the median over rounds of after ÷ before for req/s and for server CPU per
 * request. BENCH_QUICK=1 shortens the rounds. Given a commit that removes one feature, the ratio is
 * that feature's price (how the trade table in docs/benchmarks.md was measured). The scenarios `miss`
 * and `miss-new` are latency probes instead (bench/lib/miss-ab.ts): cache misses one at a time, p50,
 * overhead over the upstream's own p50 and CPU per request.
 */
import { existsSync } from "node:fs";
import { startBenchUpstream } from "./lib/bench-upstream.js";
import { buildOther, compileForBench } from "./lib/build.js";
import { ChildServer } from "./lib/child-server.js";
import { type LoadSample, runLoad } from "./lib/load.js";
import { log } from "./lib/log.js";
import { compareMiss, MISS_PROBES } from "./lib/miss-ab.js";
import { placeProcesses } from "./lib/placement.js";
import { fixed, median, whole } from "./lib/stats.js";
import { throughputScenarios } from "./scenarios/throughput.js";
import { ROOT, SETTINGS } from "./settings.js";

const [refs, ids = "hit,locked"] = process.argv.slice(2);
if (refs === undefined) {
  process.stderr.write("usage: npm run bench:ab -- <git-ref>[,<git-ref>...] [scenario,...]\n");
  process.exit(2);
}

const placement = placeProcesses();
log(placement.note);
compileForBench();
for (const ref of refs.split(",")) await compare(ref);

/** Every scenario, the build of `ref` against the working tree's, interleaved. */
async function compare(ref: string): Promise<void> {
  const other = buildOther(ref);
  const before = other.root;
  log(`built ${ref} in ${before}`);
  const { fake, token } = await startBenchUpstream();
  try {
    const wanted = new Set(ids.split(","));
    const scenarios = throughputScenarios(placement, fake, token).filter((scenario) =>
      wanted.has(scenario.id),
    );
    for (const scenario of scenarios) {
      // The same spec with the earlier build's entry point: dist/ paths are the same under either root.
      const beforeSpec = scenario.spec([]);
      const beforeScript = beforeSpec.script.replace(ROOT, `${before}/`);
      if (!existsSync(beforeScript)) throw new Error(`no build of ${ref} at ${beforeScript}`);
      const servers = {
        before: await ChildServer.start({
          ...beforeSpec,
          name: `${scenario.id}@${ref}`,
          script: beforeScript,
        }),
        after: await ChildServer.start(scenario.spec([])),
      };
      const samples: Record<"before" | "after", LoadSample[]> = { before: [], after: [] };
      try {
        for (const side of ["before", "after"] as const) {
          await scenario.prepare(servers[side]);
          await runLoad(servers[side], {
            ...scenario.load,
            connections: SETTINGS.connections,
            seconds: SETTINGS.warmupSeconds,
          });
        }
        for (let round = 0; round < SETTINGS.repetitions * 2; round++) {
          // The order alternates: whichever server is loaded second in a pair ran a few per cent
          // faster (an A/A run of one commit against itself read ×1.046 with a fixed order).
          const order = round % 2 === 0 ? (["before", "after"] as const) : (["after", "before"] as const);
          for (const side of order) {
            const sample = await runLoad(servers[side], {
              ...scenario.load,
              connections: SETTINGS.connections,
              seconds: SETTINGS.loadSeconds,
            });
            if (sample.badBodies + sample.wrongStatus + sample.errors > 0)
              throw new Error(`${scenario.id} ${side}: wrong answers under load`);
            samples[side].push(sample);
          }
        }
      } finally {
        await servers.before.stop();
        await servers.after.stop();
      }
      const ratio = (pick: (sample: LoadSample) => number) =>
        median(samples.after.map((after, index) => pick(after) / pick(samples.before[index] as LoadSample)));
      const rps = (side: "before" | "after") => median(samples[side].map((sample) => sample.rps));
      const cpu = (side: "before" | "after") => median(samples[side].map((sample) => sample.cpuUsPerRequest));
      process.stdout.write(
        `${scenario.id} ${ref} → working tree: req/s ${whole(rps("before"))} → ${whole(rps("after"))} (×${fixed(
          ratio((s) => s.rps),
          3,
        )}), ` +
          `CPU ${fixed(cpu("before"), 1)} → ${fixed(cpu("after"), 1)} µs/req (×${fixed(
            ratio((s) => s.cpuUsPerRequest),
            3,
          )}), ` +
          `${samples.after.length} rounds each\n`,
      );
    }
    for (const probe of MISS_PROBES) {
      if (wanted.has(probe))
        process.stdout.write(await compareMiss(probe, ref, before, placement.serverCore, fake));
    }
  } finally {
    await fake.close();
    other.remove();
  }
}
