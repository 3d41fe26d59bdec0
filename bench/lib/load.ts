/**
 * Closed-loop load with autocannon: a fixed body on N keep-alive connections for a fixed time, with
 * every response checked, and the server's CPU time read around the run.
 */
import autocannon from "autocannon";
import type { ChildServer } from "./child-server.js";

/** What one load run sends and what counts as a correct answer. */
export interface LoadSpec {
  readonly path: string;
  readonly body: string;
  readonly connections: number;
  readonly seconds: number;
  /** The status every answer must have (a refused document answers 200 to application/json clients). */
  readonly expectStatus: number;
  /** Whether a body is the expected answer; GraphQL errors arrive with status 200, so this matters. */
  readonly verify: (body: string) => boolean;
}

/** One run's figures. */
export interface LoadSample {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Socket errors and timeouts. */
  readonly errors: number;
  readonly non2xx: number;
  /** Answers with another status than expected. */
  readonly wrongStatus: number;
  /** Answers whose body failed `verify`. */
  readonly badBodies: number;
  /** Server CPU (user + system) per completed request, microseconds. */
  readonly cpuUsPerRequest: number;
  readonly rssBytes: number;
}

/** Runs one load against `server` and measures it. */
export async function runLoad(server: ChildServer, spec: LoadSpec): Promise<LoadSample> {
  const cpuBefore = server.cpuSeconds();
  const result = await autocannon({
    url: `${server.origin}${spec.path}`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: spec.body,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
    verifyBody: spec.verify,
  });
  const cpuAfter = server.cpuSeconds();
  const requests = result.requests.total;
  let expected = 0;
  for (const [status, stats] of Object.entries(result.statusCodeStats)) {
    if (Number(status) === spec.expectStatus) expected += stats.count;
  }
  return {
    requests,
    rps: requests / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors,
    non2xx: result.non2xx,
    wrongStatus: requests - expected,
    badBodies: result.mismatches,
    cpuUsPerRequest: requests === 0 ? Number.NaN : ((cpuAfter - cpuBefore) * 1e6) / requests,
    rssBytes: server.rssBytes(),
  };
}
