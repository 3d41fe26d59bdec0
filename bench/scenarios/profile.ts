/** BENCH_PROFILE: CPU-profile scenarios' servers instead of benchmarking them, and summarise self time. */
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { BulkUpstream, bulkSecret } from "../lib/bulk-upstream.js";
import { ChildServer } from "../lib/child-server.js";
import { formatSummary, summarizeProfile } from "../lib/cpu-profile.js";
import { indexedBatch, sequentialProbe } from "../lib/http-client.js";
import { runLoad } from "../lib/load.js";
import { log } from "../lib/log.js";
import { missPhases } from "../lib/miss-phases.js";
import { tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import { fixed, percentile, whole } from "../lib/stats.js";
import { fetched, MISS_ID, PROFILE, RESULTS, SECRET, SETTINGS } from "../settings.js";
import { serviceSpec } from "./service.js";
import { throughputScenarios } from "./throughput.js";

/** Profiles each server BENCH_PROFILE names, writing bench/results/profiles/<id>.cpuprofile and .txt. */
export async function profile(placement: Placement, fake: FakeAspose, token: string): Promise<void> {
  const directory = join(RESULTS, "profiles");
  mkdirSync(directory, { recursive: true });
  const scenarios = throughputScenarios(placement, fake, token);
  for (const id of PROFILE) {
    if (id === "miss-phases") {
      // Not a CPU profile: wall clock against CPU per phase of a miss (bench/lib/miss-phases.ts).
      process.stdout.write(`\n${await missPhases(placement, fake)}\n`);
      continue;
    }
    const scenario = scenarios.find((candidate) => candidate.id === id);
    if (scenario === undefined && id !== "miss" && id !== "fill") {
      log(
        `unknown profile scenario ${id}: one of ${[...scenarios.map((s) => s.id), "miss", "miss-phases", "fill"].join(", ")}`,
      );
      continue;
    }
    const file = `${id}.cpuprofile`;
    rmSync(join(directory, file), { force: true });
    const flags = ["--cpu-prof", `--cpu-prof-dir=${directory}`, `--cpu-prof-name=${file}`];
    if (scenario !== undefined) {
      const server = await ChildServer.start(scenario.spec(flags));
      await scenario.prepare(server);
      const sample = await runLoad(server, {
        ...scenario.load,
        connections: SETTINGS.connections,
        seconds: SETTINGS.profileSeconds,
      });
      log(`profiled ${id}: ${whole(sample.rps)} req/s, ${fixed(sample.cpuUsPerRequest, 0)} µs/req`);
      await server.stop();
    } else if (id === "miss") {
      const server = await ChildServer.start(
        serviceSpec("miss", placement.serverCore, fake.url, { TOKEN_CACHE: "off" }, flags),
      );
      const probe = await sequentialProbe({
        url: `${server.origin}/graphql`,
        body: tokenRequestBody(MISS_ID, SECRET),
        count: SETTINGS.profileSeconds * 200,
        expectStatus: 200,
        verify: fetched,
      });
      log(`profiled miss: p50 ${fixed(percentile(probe.latenciesMs, 50), 2)} ms`);
      await server.stop();
    } else {
      const upstream = await BulkUpstream.start();
      const server = await ChildServer.start(
        serviceSpec("fill", placement.serverCore, upstream.url, { LOCKOUT_THRESHOLD: "1000" }, flags),
      );
      const clientId = (index: number) => `bench-fill-${index}`;
      const batch = await indexedBatch({
        url: `${server.origin}/graphql`,
        from: 0,
        to: SETTINGS.profileSeconds * 500,
        concurrency: SETTINGS.fillConcurrency,
        bodyFor: (index) => tokenRequestBody(clientId(index), bulkSecret(clientId(index))),
        verify: (answer) => fetched(answer.body),
      });
      log(`profiled fill: ${whole(batch.sent / batch.seconds)} req/s`);
      await server.stop();
      await upstream.close();
    }
    if (!existsSync(join(directory, file))) {
      log(`no profile written for ${id} (files: ${readdirSync(directory).join(", ")})`);
      continue;
    }
    const text = formatSummary(
      `${id} (${join("bench/results/profiles", file)})`,
      summarizeProfile(join(directory, file)),
    );
    writeFileSync(join(directory, `${id}.txt`), `${text}\n`);
    process.stdout.write(`\n${text}\n`);
  }
}
