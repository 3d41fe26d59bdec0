import type { Logger } from "pino";

/** The facts of one answered request, as its access-log line records them. */
export interface AccessLogEntry {
  readonly requestId: string;
  readonly method: string | undefined;
  readonly path: string;
  readonly status: number;
  readonly outcome: string;
  /** performance.now() when the request arrived. */
  readonly started: number;
}

/** One "request" line per answered request: its id, method, path, status, outcome and duration. */
export function accessLog(logger: Logger): (entry: AccessLogEntry) => void {
  // The request line's fields are fixed and hold no secret, so it skips pino's path redaction, which
  // costs about 25 us a line with wildcard paths against about 1 us without (measured).
  const requestLog = logger.child({}, { redact: [] });
  return (entry) => {
    requestLog.info(
      {
        requestId: entry.requestId,
        method: entry.method,
        // A path is client-chosen: a long one is cut so one line cannot carry a flood.
        path: entry.path.length > 64 ? `${entry.path.slice(0, 64)}…` : entry.path,
        status: entry.status,
        outcome: entry.outcome,
        durationMs: Math.round((performance.now() - entry.started) * 100) / 100,
      },
      "request",
    );
  };
}
