/**
 * What a bench run does, read once from the environment (see docs/benchmarks.md), and the constants the
 * scenarios share: credentials, the token path, the limits the service runs with.
 *
 *   BENCH_QUICK=1                 ~30 s smoke run (short loads, small memory scenario)
 *   BENCH_ONLY=throughput,miss    run some groups only: throughput, miss, burst, memory, refresh, floods
 *   BENCH_PROFILE=hit,bare        instead of the benchmark, CPU-profile these scenarios' servers
 *                                 (raw, bare, hit, locked, overlimit, miss) and summarise self time;
 *                                 miss-phases: a miss's wall clock against CPU, phase by phase
 *   BENCH_SKIP_BUILD=1            reuse dist/ as it is
 *   BENCH_CACHE_BOUND, BENCH_FLOOD the memory scenario's size
 *   BENCH_FLOODS_BEFORE=main      the floods group also runs against that commit's build, same run
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));
export const RESULTS = join(ROOT, "bench", "results");
export const QUICK = process.env.BENCH_QUICK === "1";
export const SKIP_BUILD = process.env.BENCH_SKIP_BUILD === "1";
export const GROUPS = new Set(
  (process.env.BENCH_ONLY ?? "throughput,miss,burst,memory,refresh,floods")
    .split(",")
    .map((group) => group.trim()),
);
export const PROFILE = (process.env.BENCH_PROFILE ?? "")
  .split(",")
  .map((id) => id.trim())
  .filter((id) => id !== "");

/** Distinct credentials per operation while filling the cache in (g). */
export const FILL_ALIASES = 5;

export const SETTINGS = QUICK
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
      floods: { cap: 500, uploads: 600, pipeliners: 20, pipelined: 4000, idleSeconds: 3, attackSeconds: 8 },
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
      // (i) scaled from the attacks that found the problem: 10,100 slow bodies against a cap of
      // 10,000, 9,000 slow uploads, 100 pipeliners of 10,000 requests.
      floods: {
        cap: 1000,
        uploads: 3000,
        pipeliners: 50,
        pipelined: 10_000,
        idleSeconds: 5,
        attackSeconds: 15,
      },
    };

// The memory scenario's size can be set on its own, e.g. to check a production-sized bound.
if (process.env.BENCH_CACHE_BOUND !== undefined) SETTINGS.cacheBound = Number(process.env.BENCH_CACHE_BOUND);
if (process.env.BENCH_FLOOD !== undefined) SETTINGS.flood = Number(process.env.BENCH_FLOOD);
if (SETTINGS.cacheBound % (4 * FILL_ALIASES) !== 0 || SETTINGS.flood % (2 * FILL_ALIASES) !== 0)
  throw new Error("BENCH_CACHE_BOUND must be a multiple of 20 and BENCH_FLOOD of 10");

export const TOKEN_PATH = "/v4.0/cells/connect/token";
export const HIT_ID = "bench-hit-client";
export const MISS_ID = "bench-miss-client";
export const LOCKED_ID = "bench-locked-client";
export const SECRET = "0123456789abcdef0123456789abcdef";
export const WRONG_SECRET = "ffffffffffffffffffffffffffffffff";
export const LOCKOUT_THRESHOLD = 5;
export const MAX_TOKEN_FIELDS = 3;

export const noErrors = (body: string): boolean => !body.includes('"errors"');
export const cacheHit = (body: string): boolean => body.includes('"fromCache":true') && noErrors(body);
export const fetched = (body: string): boolean => body.includes('"fromCache":false') && noErrors(body);
