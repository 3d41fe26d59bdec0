/**
 * `bench:ab`'s miss probes: two builds of the service, every request a cache miss that calls a fake
 * Aspose, asked one request at a time, in interleaved rounds. Each round times the upstream alone
 * first, so each side's overhead (its p50 − the upstream's p50) is against an upstream measured moments
 * before. A miss is latency-bound (one request waits for Aspose), so autocannon's whole-millisecond
 * latencies and 50 connections (single flight would join them) do not fit it.
 *
 * Two kinds of miss: `miss` asks for the same known-good credential with the cache off (the gate lets
 * a verified credential through uncounted), `miss-new` for a credential never seen before on every
 * request, with the cache on, against bench/lib/bulk-upstream.ts (any number of clients, no RSA
 * signing): the first request of a clientId, which meets the lockout accounting and is stored.
 * `miss-new-redis` is miss-new with both builds sharing a throwaway Redis (bench/lib/bench-redis.ts), as
 * replicas do: each of its reads and writes is then a round trip the caller waits for. With
 * BENCH_REDIS_RTT_MS=<ms> the services reach that Redis through a relay adding that round-trip time (a
 * managed Redis a network hop away), so the count of round trips a miss waits for stands above the noise.
 * BENCH_MISS_LATENCY_MS=20 runs `miss` with the fake Aspose 20 ms slow, the miss scenario's other leg.
 */
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { serviceSpec } from "../scenarios/service.js";
import { fetched, MISS_ID, ROOT, SECRET, SETTINGS, TOKEN_PATH } from "../settings.js";
import { delayedRelay, startBenchRedis } from "./bench-redis.js";
import { BulkUpstream, bulkSecret } from "./bulk-upstream.js";
import { ChildServer } from "./child-server.js";
import { sequentialProbe } from "./http-client.js";
import { log } from "./log.js";
import { tokenRequestBody, upstreamFormBody } from "./operations.js";
import { fixed, median, percentile } from "./stats.js";

type Side = "before" | "after";

// The shared store's sealing key, the same for both builds (a bench value, sealing bench tokens).
const REDIS_CACHE_KEY = "bench-miss-redis-0123456789abcdef0123456789abcdef";
const REDIS_RTT_MS = Number(process.env.BENCH_REDIS_RTT_MS ?? 0);
const MISS_LATENCY_MS = Number(process.env.BENCH_MISS_LATENCY_MS ?? 0);

/** The miss probes `bench:ab` knows. */
export const MISS_PROBES = ["miss", "miss-new", "miss-new-redis"] as const;
export type MissProbe = (typeof MISS_PROBES)[number];

// Client ids of miss-new: never the same twice in a process, on either side.
let nextClient = 0;
const newClientId = (): string => `bench-new-${process.pid}-${nextClient++}`;

/** One side's figures in one round. */
interface MissSample {
  readonly p50Ms: number;
  /** p50 − the upstream-alone p50 measured just before, ms. */
  readonly overheadMs: number;
  readonly cpuUsPerRequest: number;
}

/** Loads the build under `beforeRoot` and the working tree's with cache misses; one line of ratios. */
export async function compareMiss(
  probeId: MissProbe,
  ref: string,
  beforeRoot: string,
  core: number | undefined,
  fake: FakeAspose,
): Promise<string> {
  const bulk = probeId === "miss" ? undefined : await BulkUpstream.start();
  const redis = probeId === "miss-new-redis" ? await startBenchRedis() : undefined;
  // BENCH_REDIS_RTT_MS: the services reach Redis through a relay adding that round-trip time.
  const relay =
    redis === undefined || REDIS_RTT_MS === 0 ? undefined : await delayedRelay(redis.url, REDIS_RTT_MS);
  const upstreamUrl = bulk?.url ?? fake.url;
  const spec = serviceSpec(
    probeId,
    core,
    upstreamUrl,
    bulk === undefined
      ? { TOKEN_CACHE: "off" }
      : redis === undefined
        ? {}
        : { REDIS_URL: (relay ?? redis).url, TOKEN_CACHE_KEY: REDIS_CACHE_KEY },
  );
  const servers: Record<Side, ChildServer> = {
    before: await ChildServer.start({
      ...spec,
      name: `${probeId}@${ref}`,
      script: spec.script.replace(ROOT, `${beforeRoot}/`),
    }),
    after: await ChildServer.start(spec),
  };
  // The fake Aspose's added latency for `miss` (BENCH_MISS_LATENCY_MS, one of the miss scenario's: 0 or 20).
  const latencyMs = probeId === "miss" ? MISS_LATENCY_MS : 0;
  const count = SETTINGS.missProbes[latencyMs] ?? 100;
  const body = tokenRequestBody(MISS_ID, SECRET);
  const bodyFor =
    bulk === undefined
      ? undefined
      : () => {
          const clientId = newClientId();
          return tokenRequestBody(clientId, bulkSecret(clientId));
        };
  const formFor =
    bulk === undefined
      ? undefined
      : () => {
          const clientId = newClientId();
          return upstreamFormBody(clientId, bulkSecret(clientId));
        };
  const direct = () =>
    sequentialProbe({
      url: `${upstreamUrl}${TOKEN_PATH}`,
      body: upstreamFormBody(MISS_ID, SECRET),
      bodyFor: formFor,
      contentType: "application/x-www-form-urlencoded",
      count,
      expectStatus: 200,
      verify: (answer) => answer.includes("access_token"),
    });
  const probe = async (side: Side, upstreamP50: number): Promise<MissSample> => {
    const server = servers[side];
    const cpuBefore = server.cpuSeconds();
    const result = await sequentialProbe({
      url: `${server.origin}/graphql`,
      body,
      bodyFor,
      count,
      expectStatus: 200,
      verify: fetched,
    });
    const cpu = server.cpuSeconds() - cpuBefore;
    if (result.errors + result.wrongStatus + result.badBodies > 0)
      throw new Error(`${probeId} ${side}: wrong answers`);
    const p50Ms = percentile(result.latenciesMs, 50);
    return { p50Ms, overheadMs: p50Ms - upstreamP50, cpuUsPerRequest: (cpu * 1e6) / count };
  };
  const samples: Record<Side, MissSample[]> = { before: [], after: [] };
  try {
    fake.setLatency(latencyMs);
    await direct();
    for (const side of ["before", "after"] as const) await probe(side, 0);
    for (let round = 0; round < SETTINGS.repetitions * 2; round++) {
      // The order alternates, as for the throughput scenarios: the second of a pair runs warmer.
      const order = round % 2 === 0 ? (["before", "after"] as const) : (["after", "before"] as const);
      for (const side of order) {
        const upstream = percentile((await direct()).latenciesMs, 50);
        samples[side].push(await probe(side, upstream));
      }
      const last = (side: Side) => samples[side][samples[side].length - 1];
      log(
        `${probeId} round ${round + 1}: overhead before +${fixed(last("before")?.overheadMs ?? Number.NaN, 3)} ms, ` +
          `after +${fixed(last("after")?.overheadMs ?? Number.NaN, 3)} ms`,
      );
    }
  } finally {
    fake.setLatency(0);
    await servers.before.stop();
    await servers.after.stop();
    await bulk?.close();
    await relay?.stop();
    await redis?.stop();
  }
  const of = (side: Side, pick: (sample: MissSample) => number) => median(samples[side].map(pick));
  const ratio = (pick: (sample: MissSample) => number) =>
    median(
      samples.after.map((after, index) => {
        const before = samples.before[index];
        return before === undefined ? Number.NaN : pick(after) / pick(before);
      }),
    );
  return (
    `${probeId}${latencyMs === 0 ? "" : ` @ ${latencyMs} ms`} ${ref} → working tree: p50 ${fixed(
      of("before", (s) => s.p50Ms),
      3,
    )} → ${fixed(
      of("after", (s) => s.p50Ms),
      3,
    )} ms ` +
    `(×${fixed(
      ratio((s) => s.p50Ms),
      3,
    )}), over the upstream's p50 +${fixed(
      of("before", (s) => s.overheadMs),
      3,
    )} → ` +
    `+${fixed(
      of("after", (s) => s.overheadMs),
      3,
    )} ms (×${fixed(
      ratio((s) => s.overheadMs),
      3,
    )}), ` +
    `CPU ${fixed(
      of("before", (s) => s.cpuUsPerRequest),
      0,
    )} → ${fixed(
      of("after", (s) => s.cpuUsPerRequest),
      0,
    )} µs/req ` +
    `(×${fixed(
      ratio((s) => s.cpuUsPerRequest),
      3,
    )}), ${samples.after.length} rounds each of ${count} requests\n`
  );
}
