/** (a) (b) (c) (f): throughput of the service and its baselines, interleaved. */
import { join } from "node:path";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { ChildServer, type ServerSpec } from "../lib/child-server.js";
import { post } from "../lib/http-client.js";
import { type LoadSample, type LoadSpec, runLoad } from "../lib/load.js";
import { log } from "../lib/log.js";
import { aliasedTokenRequestBody, constantAnswer, tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed, median, sum, whole } from "../lib/stats.js";
import { TARGETS, type Verdict, verdict } from "../lib/verdict.js";
import {
  cacheHit,
  fetched,
  HIT_ID,
  LOCKED_ID,
  LOCKOUT_THRESHOLD,
  MAX_TOKEN_FIELDS,
  ROOT,
  SECRET,
  SETTINGS,
  WRONG_SECRET,
} from "../settings.js";
import { serviceSpec } from "./service.js";

/** One throughput scenario: its server, the state it needs, the load it takes. */
export interface ThroughputScenario {
  readonly id: string;
  readonly label: string;
  readonly spec: (nodeFlags: readonly string[]) => ServerSpec;
  /** Puts the server in the state the scenario measures (a primed token, a tripped lockout). */
  readonly prepare: (server: ChildServer) => Promise<void>;
  readonly load: Omit<LoadSpec, "connections" | "seconds">;
}

/** The throughput scenarios, in the order they are loaded (also what BENCH_PROFILE can name). */
export function throughputScenarios(
  placement: Placement,
  fake: FakeAspose,
  token: string,
): ThroughputScenario[] {
  const core = placement.serverCore;
  const hitBody = tokenRequestBody(HIT_ID, SECRET);
  const expectAnswer = async (server: ChildServer, body: string, wanted: (text: string) => boolean) => {
    const answer = await post(`${server.origin}/graphql`, body, false);
    if (!wanted(answer.body))
      throw new Error(`${server.name}: unexpected answer ${answer.body.slice(0, 300)}`);
  };
  return [
    {
      id: "raw",
      label: "(a) raw node:http, constant JSON",
      spec: (nodeFlags) => ({
        name: "raw",
        script: join(ROOT, "dist/bench/servers/raw-http.js"),
        core,
        readyPath: "/readyz",
        nodeFlags,
        env: { NODE_ENV: "production", BENCH_BODY: constantAnswer(token) },
      }),
      prepare: async () => {},
      load: { path: "/graphql", body: hitBody, expectStatus: 200, verify: cacheHit },
    },
    {
      id: "bare",
      label: "(b) bare Apollo Server 5, constant",
      spec: (nodeFlags) => ({
        name: "bare",
        script: join(ROOT, "dist/bench/servers/bare-apollo.js"),
        core,
        readyPath: "/readyz",
        nodeFlags,
        env: { NODE_ENV: "production", BENCH_TOKEN: token, BENCH_SCHEMA_DIR: join(ROOT, "schema") },
      }),
      prepare: (server) => expectAnswer(server, hitBody, cacheHit),
      load: { path: "/graphql", body: hitBody, expectStatus: 200, verify: cacheHit },
    },
    {
      id: "hit",
      label: "(c) service, cache hit",
      spec: (nodeFlags) => serviceSpec("hit", core, fake.url, {}, nodeFlags),
      prepare: (server) => expectAnswer(server, hitBody, fetched),
      load: { path: "/graphql", body: hitBody, expectStatus: 200, verify: cacheHit },
    },
    {
      // The same hit with OpenTelemetry on as an operator turns it on, by naming the collector (OTLP
      // http/protobuf, the spec's default, to a loopback sink that drops the export), against "hit"
      // where no collector is named and tracing is off: the price of turning it on.
      id: "hit-otel",
      label: "(c) service, cache hit, OTel on",
      spec: (nodeFlags) =>
        serviceSpec("hit-otel", core, fake.url, { OTEL_EXPORTER_OTLP_ENDPOINT: fake.url }, nodeFlags),
      prepare: (server) => expectAnswer(server, hitBody, fetched),
      load: { path: "/graphql", body: hitBody, expectStatus: 200, verify: cacheHit },
    },
    {
      // The same hit without its access-log line (LOG_LEVEL=warn): what one JSON line per request costs,
      // a feature kept on by default (issue 16 asks for such trades in figures).
      id: "hit-quiet",
      label: "(c) service, cache hit, no access log",
      spec: (nodeFlags) => serviceSpec("hit-quiet", core, fake.url, { LOG_LEVEL: "warn" }, nodeFlags),
      prepare: (server) => expectAnswer(server, hitBody, fetched),
      load: { path: "/graphql", body: hitBody, expectStatus: 200, verify: cacheHit },
    },
    {
      id: "locked",
      label: "(f) service, locked-out clientId",
      spec: (nodeFlags) =>
        serviceSpec(
          "locked",
          core,
          fake.url,
          // Long enough that the lockout outlives the run.
          { LOCKOUT_WINDOW_SECONDS: "86400", LOCKOUT_BASE_SECONDS: "86400", LOCKOUT_MAX_SECONDS: "86400" },
          nodeFlags,
        ),
      prepare: async (server) => {
        const wrong = tokenRequestBody(LOCKED_ID, WRONG_SECRET);
        for (let i = 0; i < LOCKOUT_THRESHOLD; i++)
          await expectAnswer(server, wrong, (body) => body.includes("INVALID_CREDENTIALS"));
        await expectAnswer(server, wrong, (body) => body.includes("TOO_MANY_ATTEMPTS"));
      },
      load: {
        path: "/graphql",
        body: tokenRequestBody(LOCKED_ID, WRONG_SECRET),
        expectStatus: 200,
        verify: (body) => body.includes("TOO_MANY_ATTEMPTS"),
      },
    },
    {
      id: "overlimit",
      label: `(f) service, ${MAX_TOKEN_FIELDS + 1} aliases > limit`,
      spec: (nodeFlags) => serviceSpec("overlimit", core, fake.url, {}, nodeFlags),
      prepare: async () => {},
      load: {
        path: "/graphql",
        body: aliasedTokenRequestBody(HIT_ID, SECRET, MAX_TOKEN_FIELDS + 1),
        // A refused document is 200 for application/json clients (GraphQL over HTTP).
        expectStatus: 200,
        verify: (body) => body.includes("BAD_USER_INPUT"),
      },
    },
  ];
}

/** Loads every throughput server in interleaved rounds and judges the paired ratios. */
export async function throughputGroup(
  placement: Placement,
  fake: FakeAspose,
  token: string,
  results: Results,
): Promise<void> {
  const scenarios = throughputScenarios(placement, fake, token);
  const servers = new Map<string, ChildServer>();
  const samples = new Map<string, LoadSample[]>();
  try {
    for (const scenario of scenarios) {
      const server = await ChildServer.start(scenario.spec([]));
      servers.set(scenario.id, server);
      await scenario.prepare(server);
      samples.set(scenario.id, []);
    }
    const upstreamBefore = fake.totalTokenRequests;
    for (const scenario of scenarios) {
      const server = servers.get(scenario.id);
      if (server === undefined) continue;
      log(`warm-up ${scenario.id} (${SETTINGS.warmupSeconds} s)`);
      await runLoad(server, {
        ...scenario.load,
        connections: SETTINGS.connections,
        seconds: SETTINGS.warmupSeconds,
      });
    }
    for (let rep = 1; rep <= SETTINGS.repetitions; rep++) {
      for (const scenario of scenarios) {
        const server = servers.get(scenario.id);
        if (server === undefined) continue;
        const sample = await runLoad(server, {
          ...scenario.load,
          connections: SETTINGS.connections,
          seconds: SETTINGS.loadSeconds,
        });
        samples.get(scenario.id)?.push(sample);
        log(
          `rep ${rep}/${SETTINGS.repetitions} ${scenario.id.padEnd(9)} ${whole(sample.rps).padStart(7)} req/s ` +
            `p50 ${sample.p50Ms} ms  cpu ${fixed(sample.cpuUsPerRequest, 0)} µs/req`,
        );
      }
    }
    const upstreamDuringLoad = fake.totalTokenRequests - upstreamBefore;

    const of = (id: string): LoadSample[] => samples.get(id) ?? [];
    // Paired ratios: each repetition's figure against its baseline from the same round.
    const pairedRatio = (id: string, baseline: string, pick: (sample: LoadSample) => number): number =>
      median(of(id).map((sample, i) => pick(sample) / pick(of(baseline)[i] ?? sample)));
    const rpsRatio = (id: string, baseline: string) => pairedRatio(id, baseline, (s) => s.rps);
    const cpuRatio = (id: string, baseline: string) => pairedRatio(id, baseline, (s) => s.cpuUsPerRequest);

    const hitVsBare = rpsRatio("hit", "bare");
    const lockedVsHit = rpsRatio("locked", "hit");
    const limitVsHit = rpsRatio("overlimit", "hit");
    const bad = (id: string) => sum(of(id).map((s) => s.wrongStatus + s.badBodies));
    const errors = (id: string) => sum(of(id).map((s) => s.errors));
    const clean = (id: string) => bad(id) === 0 && errors(id) === 0;

    const comparisons: Record<string, { versus: string; target: string; verdict: Verdict }> = {
      raw: { versus: "physical limit", target: "", verdict: "" },
      bare: {
        versus: `${fixed(rpsRatio("bare", "raw"), 2)}× raw`,
        target: "framework baseline",
        verdict: "",
      },
      hit: {
        versus: `${fixed(hitVsBare, 2)}× bare (CPU ${fixed(cpuRatio("hit", "bare"), 2)}×)`,
        target: "≥ 0.90× bare rps",
        verdict: verdict(hitVsBare >= TARGETS.hitVersusBare && clean("hit")),
      },
      // Informative: tracing off is the default, and costs nothing by construction (no OTel call on
      // the request path); this line shows what turning it on costs.
      "hit-otel": {
        versus: `${fixed(rpsRatio("hit-otel", "hit"), 2)}× hit, OTel off (CPU ${fixed(cpuRatio("hit-otel", "hit"), 2)}×)`,
        target: "informative",
        verdict: "",
      },
      "hit-quiet": {
        versus: `${fixed(rpsRatio("hit-quiet", "hit"), 2)}× hit with its log line (CPU ${fixed(cpuRatio("hit-quiet", "hit"), 2)}×)`,
        target: "informative",
        verdict: "",
      },
      locked: {
        versus: `${fixed(lockedVsHit, 2)}× hit (CPU ${fixed(cpuRatio("locked", "hit"), 2)}×)`,
        target: "≥ 1.00× hit rps",
        verdict: verdict(lockedVsHit >= TARGETS.refusalVersusHit && clean("locked")),
      },
      overlimit: {
        versus: `${fixed(limitVsHit, 2)}× hit (CPU ${fixed(cpuRatio("overlimit", "hit"), 2)}×)`,
        target: "≥ 1.00× hit rps",
        verdict: verdict(limitVsHit >= TARGETS.refusalVersusHit && clean("overlimit")),
      },
    };
    for (const scenario of scenarios) {
      const list = of(scenario.id);
      const comparison = comparisons[scenario.id];
      const last = list[list.length - 1];
      results.rows.push({
        scenario: scenario.label,
        rps: median(list.map((s) => s.rps)),
        versus: comparison?.versus ?? "",
        p50Ms: median(list.map((s) => s.p50Ms)),
        p99Ms: median(list.map((s) => s.p99Ms)),
        cpuUs: median(list.map((s) => s.cpuUsPerRequest)),
        rssBytes: last?.rssBytes ?? Number.NaN,
        errors: errors(scenario.id),
        non2xx: sum(list.map((s) => s.non2xx)),
        bad: bad(scenario.id),
        upstream: scenario.id === "raw" || scenario.id === "bare" ? "–" : "",
        target: comparison?.target ?? "",
        verdict: comparison?.verdict ?? "",
      });
    }
    // Upstream calls during the measured loads, all service scenarios together: must be 0 (the hit
    // is cached, the refusals never reach Aspose).
    for (const row of results.rows)
      if (row.upstream === "") Object.assign(row, { upstream: String(upstreamDuringLoad) });
    results.targets.push(
      {
        name: "cache hit ≥ 0.90× bare Apollo (req/s, median of paired ratios)",
        measured: `${fixed(hitVsBare, 2)}×`,
        verdict: comparisons.hit?.verdict ?? "MISS",
      },
      {
        name: "locked-out clientId ≥ 1.00× cache hit",
        measured: `${fixed(lockedVsHit, 2)}×`,
        verdict: comparisons.locked?.verdict ?? "MISS",
      },
      {
        name: `over-limit operation (${MAX_TOKEN_FIELDS + 1} aliases) ≥ 1.00× cache hit`,
        measured: `${fixed(limitVsHit, 2)}×`,
        verdict: comparisons.overlimit?.verdict ?? "MISS",
      },
    );
    if (upstreamDuringLoad !== 0)
      results.notes.push(`${upstreamDuringLoad} upstream calls during the throughput loads (expected 0).`);
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
}
