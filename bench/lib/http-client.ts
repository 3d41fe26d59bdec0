/**
 * The bench's own HTTP clients for what autocannon does not do well: sub-millisecond latency of one
 * request at a time, a burst of simultaneous connections, and many requests with distinct bodies.
 */
import { Agent, request } from "node:http";

/** One answer: status and body text. */
export interface Answer {
  readonly status: number;
  readonly body: string;
}

/** POSTs `body` and resolves with the whole answer; rejects on a socket error. */
export function post(
  url: string,
  body: string,
  agent: Agent | false,
  contentType = "application/json",
  onWritten?: () => void,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    if (onWritten !== undefined) req.on("finish", onWritten);
    req.end(body);
  });
}

/** Latencies and failures of a sequential run. */
export interface ProbeResult {
  /** Milliseconds, one per answered request, in order. */
  readonly latenciesMs: number[];
  readonly seconds: number;
  readonly errors: number;
  readonly wrongStatus: number;
  readonly badBodies: number;
}

/**
 * Sends `count` requests one after another on one keep-alive connection, timing each precisely; each
 * body is `body`, or `bodyFor(i)` for the i-th when given.
 */
export async function sequentialProbe(options: {
  readonly url: string;
  readonly body: string;
  readonly bodyFor?: (index: number) => string;
  readonly contentType?: string;
  readonly count: number;
  readonly expectStatus: number;
  readonly verify: (body: string) => boolean;
}): Promise<ProbeResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latenciesMs: number[] = [];
  let errors = 0;
  let wrongStatus = 0;
  let badBodies = 0;
  const started = performance.now();
  for (let i = 0; i < options.count; i++) {
    const body = options.bodyFor?.(i) ?? options.body;
    const sent = performance.now();
    try {
      const answer = await post(options.url, body, agent, options.contentType);
      latenciesMs.push(performance.now() - sent);
      if (answer.status !== options.expectStatus) wrongStatus += 1;
      else if (!options.verify(answer.body)) badBodies += 1;
    } catch {
      errors += 1;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return { latenciesMs, seconds, errors, wrongStatus, badBodies };
}

/** How many answers of a batch were right. */
export interface BatchResult {
  readonly sent: number;
  readonly errors: number;
  readonly wrongStatus: number;
  readonly badBodies: number;
  readonly seconds: number;
}

/**
 * Sends requests `from` to `to - 1` (each body made from its index) on `concurrency` keep-alive
 * connections, each connection taking the next index when it is free.
 */
export async function indexedBatch(options: {
  readonly url: string;
  readonly from: number;
  readonly to: number;
  readonly concurrency: number;
  readonly bodyFor: (index: number) => string;
  readonly verify: (answer: Answer) => boolean;
}): Promise<BatchResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  let next = options.from;
  let errors = 0;
  let wrongStatus = 0;
  let badBodies = 0;
  const started = performance.now();
  const worker = async (): Promise<void> => {
    while (next < options.to) {
      const index = next;
      next += 1;
      try {
        const answer = await post(options.url, options.bodyFor(index), agent);
        if (answer.status !== 200) wrongStatus += 1;
        else if (!options.verify(answer)) badBodies += 1;
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, () => worker()));
  agent.destroy();
  return {
    sent: options.to - options.from,
    errors,
    wrongStatus,
    badBodies,
    seconds: (performance.now() - started) / 1000,
  };
}

/** An answer and when it arrived (performance.now()). */
export interface TimedAnswer extends Answer {
  readonly at: number;
}

/** A burst in flight: `written` resolves once every request is on the wire, `answers` once all are back. */
export interface Burst {
  readonly written: Promise<void>;
  readonly answers: Promise<Array<TimedAnswer | Error>>;
}

/** Opens `count` connections at once and sends the same request on each. */
export function burst(url: string, body: string, count: number): Burst {
  let writtenCount = 0;
  let markWritten: () => void = () => {};
  const written = new Promise<void>((resolve) => {
    markWritten = resolve;
  });
  const onWritten = (): void => {
    writtenCount += 1;
    if (writtenCount === count) markWritten();
  };
  const answers = Promise.all(
    Array.from({ length: count }, () =>
      // agent: false gives every request its own connection, as `count` distinct callers would.
      post(url, body, false, "application/json", onWritten).then(
        (answer): TimedAnswer => ({ ...answer, at: performance.now() }),
        (error: unknown) => {
          onWritten();
          return error instanceof Error ? error : new Error(String(error));
        },
      ),
    ),
  );
  return { written, answers };
}
