import type { Logger } from "pino";

/**
 * Why the edge closed a connection or refused a request to protect itself: the connection cap or
 * the per-address limit was reached, a body arrived too slowly or did not fit in the body budget, or
 * the client read none of its answers.
 */
export type ShedReason = "connection_cap" | "address_limit" | "slow_body" | "body_budget" | "send_timeout";

/** Records one shed connection or request. */
export type Shed = (reason: ShedReason) => void;

const WARNINGS: Readonly<Record<ShedReason, string>> = {
  connection_cap: "Connection cap reached: closing new connections",
  address_limit: "Connection limit per address reached: closing that address's new connections",
  slow_body: "Request bodies arriving below the minimum rate: answering 408 and closing them",
  body_budget: "Request body budget full: answering new uploads 503 and closing them",
  send_timeout: "Clients reading none of their answers: closing their connections",
};

// A warning per reason at most this often: a flood must not become a flood of log lines.
const WARNING_INTERVAL_MS = 10_000;

/**
 * Reports shed load to `count` (the metrics) as it happens, and to the log as one warning per reason
 * at most every 10 s, with how many were shed since the last one.
 */
export function shedReporter(logger: Logger, count: Shed = () => {}): Shed {
  const since = new Map<ShedReason, number>();
  const lastWarning = new Map<ShedReason, number>();
  return (reason) => {
    count(reason);
    const shed = (since.get(reason) ?? 0) + 1;
    const now = performance.now();
    if (now - (lastWarning.get(reason) ?? Number.NEGATIVE_INFINITY) < WARNING_INTERVAL_MS) {
      since.set(reason, shed);
      return;
    }
    lastWarning.set(reason, now);
    since.set(reason, 0);
    logger.warn({ reason, shed }, WARNINGS[reason]);
  };
}
