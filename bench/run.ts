/**
 * `npm run bench`: the service against its baselines, every figure a ratio to a baseline measured in
 * the same run, interleaved. See bench/README.md for what each scenario measures and the targets.
 *
 *   BENCH_QUICK=1                 ~30 s smoke run (short loads, small memory scenario)
 *   BENCH_ONLY=throughput,miss    run some groups only: throughput, miss, burst, memory
 *   BENCH_PROFILE=hit,bare        instead of the benchmark, CPU-profile these scenarios' servers
 *                                 (raw, bare, hit, locked, overlimit, miss) and summarise self time
 *   BENCH_SKIP_BUILD=1            reuse dist/ as it is
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { FakeAspose } from "../dev/fake-aspose.js";
import { BulkUpstream, bulkSecret } from "./lib/bulk-upstream.js";
import { ChildServer, type ServerSpec } from "./lib/child-server.js";
import { formatSummary, summarizeProfile } from "./lib/cpu-profile.js";
import { burst, indexedBatch, post, sequentialProbe } from "./lib/http-client.js";
import { type LoadSample, type LoadSpec, runLoad } from "./lib/load.js";
import { lookupsSince, scrape, value } from "./lib/metrics.js";
import {
  aliasedTokenRequestBody,
  constantAnswer,
  multiTokenRequestBody,
  tokenRequestBody,
  upstreamFormBody,
} from "./lib/operations.js";
import { fixed, median, mib, percentile, sum, whole } from "./lib/stats.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const RESULTS = join(ROOT, "bench", "results");
const QUICK = process.env.BENCH_QUICK === "1";
const GROUPS = new Set(
  (process.env.BENCH_ONLY ?? "throughput,miss,burst,memory").split(",").map((group) => group.trim()),
);
const PROFILE = (process.env.BENCH_PROFILE ?? "")
  .split(",")
  .map((id) => id.trim())
  .filter((id) => id !== "");

/** Distinct credentials per operation while filling the cache in (g). */
const FILL_ALIASES = 5;

const SETTINGS = QUICK
  ? {
      repetitions: 3,
      loadSeconds: 1,
      warmupSeconds: 1,
      connections: 50,
      missProbes: { 0: 150, 20: 25 } as Record<number, number>,
      burstRepetitions: 3,
      burstSize: 1000,
      cacheBound: 5_000,
      flood: 2_500,
      fillConcurrency: 8,
      profileSeconds: 5,
    }
  : {
      repetitions: 5,
      loadSeconds: 4,
      warmupSeconds: 3,
      connections: 50,
      missProbes: { 0: 500, 20: 100 } as Record<number, number>,
      burstRepetitions: 3,
      burstSize: 1000,
      cacheBound: 100_000,
      flood: 25_000,
      fillConcurrency: 8,
      profileSeconds: 10,
    };

// The memory scenario's size can be set on its own, e.g. to check a production-sized bound.
if (process.env.BENCH_CACHE_BOUND !== undefined) SETTINGS.cacheBound = Number(process.env.BENCH_CACHE_BOUND);
if (process.env.BENCH_FLOOD !== undefined) SETTINGS.flood = Number(process.env.BENCH_FLOOD);
if (SETTINGS.cacheBound % (4 * FILL_ALIASES) !== 0 || SETTINGS.flood % (2 * FILL_ALIASES) !== 0)
  throw new Error("BENCH_CACHE_BOUND must be a multiple of 20 and BENCH_FLOOD of 10");

const TOKEN_PATH = "/v4.0/cells/connect/token";
const HIT_ID = "bench-hit-client";
const MISS_ID = "bench-miss-client";
const LOCKED_ID = "bench-locked-client";
const SECRET = "0123456789abcdef0123456789abcdef";
const WRONG_SECRET = "ffffffffffffffffffffffffffffffff";
const LOCKOUT_THRESHOLD = 5;
const MAX_TOKEN_FIELDS = 3;

const noErrors = (body: string): boolean => !body.includes('"errors"');
const cacheHit = (body: string): boolean => body.includes('"fromCache":true') && noErrors(body);
const fetched = (body: string): boolean => body.includes('"fromCache":false') && noErrors(body);

// ---------------------------------------------------------------------------------------------
// Process placement and build

interface Placement {
  readonly serverCore: number | undefined;
  /** Cores visible before this process pinned itself. */
  readonly cores: number;
  readonly note: string;
}

/** Pins this process (autocannon and the fake upstreams) to core 1, leaving core 0 to the server. */
function placeProcesses(): Placement {
  const cores = availableParallelism();
  let taskset = false;
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    taskset = true;
  } catch {
    taskset = false;
  }
  if (!taskset || cores < 2)
    return { serverCore: undefined, cores, note: `unpinned (${taskset ? `${cores} core` : "no taskset"})` };
  // -a: every thread, libuv's pool and V8's helpers included; threads made later inherit it.
  execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  return { serverCore: 0, cores, note: "servers on core 0; load generator and fake upstream on core 1" };
}

/** Compiles src/ and bench/servers/ to dist/, so no TypeScript loader runs inside a measured server. */
function build(): void {
  if (process.env.BENCH_SKIP_BUILD === "1") return;
  const started = performance.now();
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "bench/tsconfig.json")],
    { cwd: ROOT, stdio: "inherit" },
  );
  log(`built dist/ in ${fixed((performance.now() - started) / 1000, 1)} s`);
}

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

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

// ---------------------------------------------------------------------------------------------
// Servers

const MAIN = join(ROOT, "dist/src/main.js");

function serviceSpec(
  name: string,
  core: number | undefined,
  upstream: string,
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = [],
): ServerSpec {
  return {
    name,
    script: MAIN,
    core,
    readyPath: "/readyz",
    nodeFlags,
    env: {
      // Every production feature on: production mode, limits at their defaults, info logs through
      // main.ts's asynchronous destination, default and service metrics.
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      ASPOSE_BASE_URL: upstream,
      ASPOSE_TOKEN_PATH: TOKEN_PATH,
      MAX_TOKEN_FIELDS_PER_OPERATION: String(MAX_TOKEN_FIELDS),
      LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
      ...env,
    },
  };
}

interface ThroughputScenario {
  readonly id: string;
  readonly label: string;
  readonly spec: (nodeFlags: readonly string[]) => ServerSpec;
  /** Puts the server in the state the scenario measures (a primed token, a tripped lockout). */
  readonly prepare: (server: ChildServer) => Promise<void>;
  readonly load: Omit<LoadSpec, "connections" | "seconds">;
}

function throughputScenarios(placement: Placement, fake: FakeAspose, token: string): ThroughputScenario[] {
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
        expectStatus: 400,
        verify: (body) => body.includes("BAD_USER_INPUT"),
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Results

type Verdict = "PASS" | "MISS" | "";

interface Row {
  readonly scenario: string;
  readonly rps: number;
  readonly versus: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUs: number;
  readonly rssBytes: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Answers with the wrong status or body. */
  readonly bad: number;
  readonly upstream: string;
  readonly target: string;
  readonly verdict: Verdict;
}

interface Target {
  readonly name: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

const rows: Row[] = [];
const targets: Target[] = [];
const notes: string[] = [];

function verdict(ok: boolean): Verdict {
  return ok ? "PASS" : "MISS";
}

// ---------------------------------------------------------------------------------------------
// (a) (b) (c) (f): throughput, interleaved

async function throughputGroup(placement: Placement, fake: FakeAspose, token: string): Promise<void> {
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
        verdict: verdict(hitVsBare >= 0.9 && clean("hit")),
      },
      locked: {
        versus: `${fixed(lockedVsHit, 2)}× hit (CPU ${fixed(cpuRatio("locked", "hit"), 2)}×)`,
        target: "≥ 1.00× hit rps",
        verdict: verdict(lockedVsHit >= 1 && clean("locked")),
      },
      overlimit: {
        versus: `${fixed(limitVsHit, 2)}× hit (CPU ${fixed(cpuRatio("overlimit", "hit"), 2)}×)`,
        target: "≥ 1.00× hit rps",
        verdict: verdict(limitVsHit >= 1 && clean("overlimit")),
      },
    };
    for (const scenario of scenarios) {
      const list = of(scenario.id);
      const comparison = comparisons[scenario.id];
      const last = list[list.length - 1];
      rows.push({
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
    for (const row of rows)
      if (row.upstream === "") Object.assign(row, { upstream: String(upstreamDuringLoad) });
    targets.push(
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
      notes.push(`${upstreamDuringLoad} upstream calls during the throughput loads (expected 0).`);
  } finally {
    await Promise.all([...servers.values()].map((server) => server.stop()));
  }
}

// ---------------------------------------------------------------------------------------------
// (d) cache miss: p50 against the upstream's own p50, interleaved

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

async function missGroup(placement: Placement, fake: FakeAspose): Promise<void> {
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
    const results = new Map<number, MissSeries>(latencies.map((latency) => [latency, newMissSeries()]));
    for (let rep = 1; rep <= SETTINGS.repetitions; rep++) {
      const hitCount = SETTINGS.missProbes[0] ?? 100;
      const hitCpuBefore = hitServer.cpuSeconds();
      const hitProbe = await hits(hitCount);
      hitCpu.push(((hitServer.cpuSeconds() - hitCpuBefore) * 1e6) / hitCount);
      hitP50.push(percentile(hitProbe.latenciesMs, 50));
      hitP99.push(percentile(hitProbe.latenciesMs, 99));
      hitBad += hitProbe.errors + hitProbe.wrongStatus + hitProbe.badBodies;
      for (const latency of latencies) {
        const result = results.get(latency);
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
    rows.push({
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
      const result = results.get(latency);
      if (result === undefined) continue;
      const overhead = median(result.overhead);
      const ok = overhead <= 1 && result.errors === 0 && result.bad === 0 && result.upstream === result.sent;
      rows.push({
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
      rows.push({
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
      targets.push({
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

// ---------------------------------------------------------------------------------------------
// (e) cold burst: 1,000 simultaneous requests for one credential

async function burstGroup(placement: Placement, fake: FakeAspose): Promise<void> {
  const server = await ChildServer.start(serviceSpec("burst", placement.serverCore, fake.url));
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
    const ok = calls.every((count) => count === 1) && errors === 0 && bad === 0 && non2xx === 0;
    rows.push({
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
    targets.push({
      name: `cold burst of ${SETTINGS.burstSize}: exactly 1 upstream call (each of ${SETTINGS.burstRepetitions} bursts)`,
      measured: `upstream calls per burst: ${calls.join(", ")}`,
      verdict: verdict(ok),
    });
    notes.push(
      "(e) the fake upstream is held until all requests are on the wire; latencies and req/s count from the " +
        "moment it answers (the fan-out of one token to every waiting caller).",
    );
  } finally {
    await server.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// (g) memory: a full cache, then a flood of distinct credentials past its bound

async function memoryGroup(placement: Placement): Promise<void> {
  const upstream = await BulkUpstream.start();
  const bound = SETTINGS.cacheBound;
  const server = await ChildServer.start(
    serviceSpec(
      "memory",
      placement.serverCore,
      upstream.url,
      {
        TOKEN_CACHE_MAX_ENTRIES: String(bound),
        // Every fill request succeeds, but attempts in flight count against the per-address limit
        // (LOCKOUT_THRESHOLD x 4): with the default of 5, a 21st concurrent miss would be refused.
        LOCKOUT_THRESHOLD: "1000",
        // Several distinct credentials per operation make the fill of 100,000 take minutes, not many.
        MAX_TOKEN_FIELDS_PER_OPERATION: String(FILL_ALIASES),
      },
      ["--expose-gc", `--import=${pathToFileURL(join(ROOT, "dist/bench/servers/gc-on-signal.js")).href}`],
    ),
  );
  const credential = (index: number) => {
    const clientId = `bench-mem-${index.toString().padStart(7, "0")}`;
    return { clientId, clientSecret: bulkSecret(clientId) };
  };
  const fromCache = async (index: number): Promise<boolean> => {
    const { clientId, clientSecret } = credential(index);
    const answer = await post(`${server.origin}/graphql`, tokenRequestBody(clientId, clientSecret), false);
    return answer.body.includes('"fromCache":true');
  };
  // RSS as the fill left it, then the live heap after a full GC (RSS is read first: V8 gives freed
  // pages back lazily, so RSS after the GC would mostly say when it did).
  const checkpoints: Array<{ inserted: number; rss: number; heap: number }> = [];
  const checkpoint = async (inserted: number): Promise<void> => {
    const rss = server.rssBytes();
    await server.collectGarbage();
    const heap = value(await scrape(server.origin), "nodejs_heap_size_used_bytes");
    checkpoints.push({ inserted, rss, heap });
    log(`memory: ${whole(inserted)} credentials → RSS ${mib(rss)} MiB, live heap ${mib(heap)} MiB`);
  };
  let errors = 0;
  let bad = 0;
  let seconds = 0;
  let cpu = 0;
  // Credentials [from, to), FILL_ALIASES per request.
  const fill = async (from: number, to: number): Promise<void> => {
    const cpuBefore = server.cpuSeconds();
    const batch = await indexedBatch({
      url: `${server.origin}/graphql`,
      from: from / FILL_ALIASES,
      to: to / FILL_ALIASES,
      concurrency: SETTINGS.fillConcurrency,
      bodyFor: (request) =>
        multiTokenRequestBody(
          Array.from({ length: FILL_ALIASES }, (_, i) => credential(request * FILL_ALIASES + i)),
        ),
      verify: (answer) =>
        noErrors(answer.body) && answer.body.split('"fromCache":false').length - 1 === FILL_ALIASES,
    });
    cpu += server.cpuSeconds() - cpuBefore;
    seconds += batch.seconds;
    errors += batch.errors;
    bad += batch.wrongStatus + batch.badBodies;
  };
  try {
    await checkpoint(0);
    const quarter = bound / 4;
    for (let k = 1; k <= 4; k++) {
      await fill((k - 1) * quarter, k * quarter);
      await checkpoint(k * quarter);
    }
    const half = SETTINGS.flood / 2;
    await fill(bound, bound + half);
    await checkpoint(bound + half);
    await fill(bound + half, bound + SETTINGS.flood);
    await checkpoint(bound + SETTINGS.flood);
    const inserted = bound + SETTINGS.flood;
    const oldestEvicted = !(await fromCache(0));
    const newestCached = await fromCache(inserted - 1);
    const samples = await scrape(server.origin);
    const gaugeSeries = [...samples.keys()].find((series) => /token_cache_(entries|size)/.test(series));
    const entries =
      gaugeSeries === undefined ? Math.min(inserted, bound) : (samples.get(gaugeSeries) ?? Number.NaN);
    const entriesSource =
      gaugeSeries === undefined
        ? "inferred: min(inserted, bound); /metrics has no cache-size gauge"
        : gaugeSeries;

    const at = (count: number) => checkpoints.find((c) => c.inserted === count);
    const start = at(0);
    const first = at(quarter);
    const full = at(bound);
    const halfway = at(bound + SETTINGS.flood / 2);
    const flooded = at(inserted);
    // Bounded: past the bound the live heap stays at its full-cache size (each new token evicts an
    // old one), and RSS growth flattens out: over the second half of the flood it must be under a
    // quarter of the growth per credential while filling. RSS itself is mostly V8's heap reservation,
    // which churn grows and the OS gets back lazily, so it is the live heap that shows the bound.
    const heapPerEntry = full && start ? (full.heap - start.heap) / bound : Number.NaN;
    const heapGrowth = full && flooded ? flooded.heap / full.heap : Number.NaN;
    const fillSlope = first && full ? (full.rss - first.rss) / (bound - quarter) : Number.NaN;
    const lateFloodSlope =
      halfway && flooded ? (flooded.rss - halfway.rss) / (SETTINGS.flood / 2) : Number.NaN;
    const bounded = heapGrowth <= 1.1 && lateFloodSlope <= 0.25 * fillSlope;
    const ok = bounded && oldestEvicted && newestCached && entries <= bound && errors === 0 && bad === 0;
    rows.push({
      scenario: `(g) fill: ${whole(bound)} distinct credentials cached`,
      rps: inserted / seconds,
      versus: `live heap +${whole(heapPerEntry)} B per cached token`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      cpuUs: (cpu * 1e6) / inserted,
      rssBytes: full?.rss ?? Number.NaN,
      errors,
      non2xx: 0,
      bad,
      upstream: whole(upstream.calls),
      target: "",
      verdict: "",
    });
    rows.push({
      scenario: `(g) flood: +${whole(SETTINGS.flood)} distinct past the bound`,
      rps: Number.NaN,
      versus: `entries ${whole(entries)} / bound ${whole(bound)}`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      cpuUs: Number.NaN,
      rssBytes: flooded?.rss ?? Number.NaN,
      errors: 0,
      non2xx: 0,
      bad: 0,
      upstream: "",
      target: "RSS bounded by cache size",
      verdict: verdict(ok),
    });
    targets.push({
      name: `memory bounded by TOKEN_CACHE_MAX_ENTRIES=${whole(bound)}`,
      measured:
        `live heap ${mib(full?.heap ?? Number.NaN)} MiB full → ${mib(flooded?.heap ?? Number.NaN)} MiB after +${whole(SETTINGS.flood)} ` +
        `(${fixed(heapGrowth, 2)}×); RSS ${mib(full?.rss ?? Number.NaN)} → ${mib(flooded?.rss ?? Number.NaN)} MiB, ` +
        `RSS growth ${whole(lateFloodSlope)} B per credential late in the flood vs ${whole(fillSlope)} B filling; ` +
        `entries ${whole(entries)} (${entriesSource}); oldest evicted: ${oldestEvicted ? "yes" : "NO"}, newest cached: ${newestCached ? "yes" : "NO"}`,
      verdict: verdict(ok),
    });
    notes.push(
      `(g) RSS / live heap (after a forced full GC) at each checkpoint: ${checkpoints
        .map((c) => `${whole(c.inserted)}: ${mib(c.rss)} / ${mib(c.heap)} MiB`)
        .join(
          "; ",
        )}. Filled through bench/lib/bulk-upstream.ts (no RSA signing), ${FILL_ALIASES} credentials per ` +
        `operation on ${SETTINGS.fillConcurrency} connections; req/s and CPU/req of that row are per token fetched (the miss path).`,
    );
  } finally {
    await server.stop();
    await upstream.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

function cell(value: number, decimals: number): string {
  return fixed(value, decimals);
}

function report(placement: Placement, startedAt: Date, seconds: number): string {
  const commit = safeGit(["rev-parse", "--short", "HEAD"]);
  const dirty =
    safeGit(["status", "--porcelain", "--", "src"]) === "" ? "" : " (src has uncommitted changes)";
  const header = [
    `# Benchmark results`,
    "",
    `${startedAt.toISOString()} · commit ${commit}${dirty} · Node ${process.version} · ${placement.cores} cores · ${placement.note}`,
    `· ${QUICK ? "QUICK smoke run" : "full run"}: ${SETTINGS.repetitions} interleaved repetitions of ${SETTINGS.loadSeconds} s at ${SETTINGS.connections} connections after ${SETTINGS.warmupSeconds} s warm-up; medians · ${fixed(seconds, 0)} s in all`,
    "",
  ];
  const table = [
    "| Scenario | req/s | vs baseline | p50 ms | p99 ms | server CPU µs/req | RSS MiB | errors | non-2xx | bad answers | upstream calls | target | result |",
    "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ...rows.map(
      (row) =>
        `| ${row.scenario} | ${whole(row.rps)} | ${row.versus} | ${cell(row.p50Ms, 2)} | ${cell(row.p99Ms, 2)} | ` +
        `${cell(row.cpuUs, 0)} | ${mib(row.rssBytes)} | ${row.errors} | ${row.non2xx} | ${row.bad} | ${row.upstream} | ${row.target} | ${row.verdict} |`,
    ),
  ];
  const targetTable = [
    "",
    "| Target | measured | result |",
    "|---|---|---|",
    ...targets.map((target) => `| ${target.name} | ${target.measured} | **${target.verdict}** |`),
  ];
  const noteLines = notes.length === 0 ? [] : ["", ...notes.map((note) => `- ${note}`)];
  return [...header, ...table, ...targetTable, ...noteLines, ""].join("\n");
}

function safeGit(args: readonly string[]): string {
  try {
    return execFileSync("git", [...args], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

// ---------------------------------------------------------------------------------------------
// Profile mode

async function profile(placement: Placement, fake: FakeAspose, token: string): Promise<void> {
  const directory = join(RESULTS, "profiles");
  mkdirSync(directory, { recursive: true });
  const scenarios = throughputScenarios(placement, fake, token);
  for (const id of PROFILE) {
    const scenario = scenarios.find((candidate) => candidate.id === id);
    if (scenario === undefined && id !== "miss" && id !== "fill") {
      log(
        `unknown profile scenario ${id}: one of ${[...scenarios.map((s) => s.id), "miss", "fill"].join(", ")}`,
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

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const placement = placeProcesses();
  log(placement.note);
  build();
  mkdirSync(RESULTS, { recursive: true });

  const fake = await FakeAspose.start({
    clients: { [HIT_ID]: SECRET, [MISS_ID]: SECRET },
  });
  try {
    // A real token from the fake: the constant baselines answer one of the same size.
    const issued = await post(
      `${fake.url}${TOKEN_PATH}`,
      upstreamFormBody(HIT_ID, SECRET),
      false,
      "application/x-www-form-urlencoded",
    );
    const token = (JSON.parse(issued.body) as { access_token: string }).access_token;
    fake.resetCounters();

    if (PROFILE.length > 0) {
      await profile(placement, fake, token);
      return;
    }
    const groups: Array<[string, () => Promise<void>]> = [
      ["throughput", () => throughputGroup(placement, fake, token)],
      ["miss", () => missGroup(placement, fake)],
      ["burst", () => burstGroup(placement, fake)],
      ["memory", () => memoryGroup(placement)],
    ];
    for (const [name, run] of groups) {
      if (!GROUPS.has(name)) continue;
      try {
        await run();
      } catch (error) {
        // One broken group must not lose the others' results; it still fails the run.
        const message = error instanceof Error ? error.message : String(error);
        log(`${name} failed: ${message}`);
        targets.push({ name: `${name} scenarios ran`, measured: message.slice(0, 300), verdict: "MISS" });
      }
    }

    const markdown = report(placement, startedAt, (Date.now() - startedAt.getTime()) / 1000);
    writeFileSync(join(RESULTS, "latest.md"), markdown);
    process.stdout.write(`\n${markdown}\n`);
    log("written to bench/results/latest.md");
    if (targets.some((target) => target.verdict === "MISS")) process.exitCode = 1;
  } finally {
    await fake.close();
  }
}

await main();
