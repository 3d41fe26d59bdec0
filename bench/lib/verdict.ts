/**
 * The pass/miss judgement: the targets' thresholds (see the Targets table in docs/benchmarks.md) in one
 * place, and whether a run missed any. Scenario groups measure; this says what passing means.
 */
import type { Target, Verdict } from "./results.js";

export type { Verdict } from "./results.js";

/** The thresholds the targets are judged against. */
export const TARGETS = {
  /** (c) cache-hit req/s at least this share of bare Apollo's, median of paired rounds. */
  hitVersusBare: 0.9,
  /** (f) refusals' req/s at least this share of the cache hit's. */
  refusalVersusHit: 1,
  /** (d) a cache miss's p50 at most this many ms over the upstream's own p50. */
  missOverheadMs: 1,
  /** (e) upstream calls per cold burst for one credential. */
  burstUpstreamCalls: 1,
  /** (g) live heap after the flood at most this multiple of the full cache's. */
  floodHeapGrowth: 1.1,
  /** (g) RSS growth per credential late in the flood under this share of its growth while filling. */
  floodRssSlopeShare: 0.25,
} as const;

/** PASS or MISS. */
export function verdict(ok: boolean): Verdict {
  return ok ? "PASS" : "MISS";
}

/** True when any target was missed: the run then exits 1. */
export function missedAny(targets: readonly Target[]): boolean {
  return targets.some((target) => target.verdict === "MISS");
}
