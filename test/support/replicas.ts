/**
 * Runs the real service as separate processes (`node --import tsx src/main.ts`), as replicas behind a
 * router would be, and throwaway Redis servers to stop and restart under them. Output is captured line
 * by line so tests can read logs; the "ready" line is found by its `port` field only, so a change to its
 * message or other fields does not break the helpers.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { ServiceMetrics } from "../../src/observability/metrics.js";
import { RedisHealth } from "../../src/stores/redis/redis-health.js";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** One service process. */
export class Replica {
  readonly name: string;
  readonly origin: string;
  /** Every line the process wrote to stdout (JSON log lines) and stderr. */
  readonly logs: string[];
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #exited: Promise<number | null>;

  private constructor(
    name: string,
    origin: string,
    logs: string[],
    child: ChildProcessWithoutNullStreams,
    exited: Promise<number | null>,
  ) {
    this.name = name;
    this.origin = origin;
    this.logs = logs;
    this.#child = child;
    this.#exited = exited;
  }

  /** Spawns the service with `env` on top of test defaults (PORT=0) and waits for its ready line. */
  static async start(name: string, env: Record<string, string>, readyTimeoutMs = 20_000): Promise<Replica> {
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: ROOT,
      // A clean environment: nothing from the test runner leaks into the service's config.
      env: {
        PATH: process.env.PATH ?? "",
        NODE_ENV: "test",
        HOST: "127.0.0.1",
        PORT: "0",
        LOG_LEVEL: "info",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const logs: string[] = [];
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    createInterface({ input: child.stderr }).on("line", (line) => logs.push(line));
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`${name} was not ready within ${readyTimeoutMs} ms:\n${logs.join("\n")}`));
      }, readyTimeoutMs);
      createInterface({ input: child.stdout }).on("line", (line) => {
        logs.push(line);
        const found = portOf(line);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      void exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code} before it was ready:\n${logs.join("\n")}`));
      });
    });
    return new Replica(name, `http://127.0.0.1:${port}`, logs, child, exited);
  }

  /** SIGTERM, then SIGKILL past the deadline; resolves with the exit code. */
  async stop(deadlineMs = 10_000): Promise<number | null> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return this.#exited;
    this.#child.kill("SIGTERM");
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), deadlineMs);
    const code = await this.#exited;
    clearTimeout(timer);
    return code;
  }

  /** Parsed JSON log lines (others skipped). */
  jsonLogs(): Record<string, unknown>[] {
    const parsed: Record<string, unknown>[] = [];
    for (const line of this.logs) {
      const value = parseJson(line);
      if (value !== undefined) parsed.push(value);
    }
    return parsed;
  }
}

function parseJson(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function portOf(line: string): number | undefined {
  const port = parseJson(line)?.port;
  return typeof port === "number" && Number.isInteger(port) && port > 0 ? port : undefined;
}

/** Starts several replicas in parallel; if one fails, the others are stopped. */
export async function startReplicas(count: number, env: Record<string, string>): Promise<Replica[]> {
  const settled = await Promise.allSettled(
    Array.from({ length: count }, (_, index) => Replica.start(`replica-${index}`, env)),
  );
  const started = settled.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = settled.find((result) => result.status === "rejected");
  if (failed !== undefined) {
    await Promise.all(started.map((replica) => replica.stop()));
    throw failed.reason;
  }
  return started;
}

/** Polls `check` until it returns something other than undefined/false; bounded, never a bare sleep. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

export interface GraphQLAnswer {
  readonly status: number;
  readonly data: { accessToken: TokenFields } | null | undefined;
  readonly errors: { message: string; extensions?: { code?: string } }[] | undefined;
}

export interface TokenFields {
  accessToken: string;
  fromCache: boolean;
  expiresIn: number;
}

const MUTATION = `mutation T($clientId: String!, $clientSecret: String!, $forceRefresh: Boolean) {
  accessToken(clientId: $clientId, clientSecret: $clientSecret, forceRefresh: $forceRefresh) {
    accessToken fromCache expiresIn
  }
}`;

/** The accessToken mutation against one replica over real HTTP. */
export async function requestTokenFrom(
  replica: Replica,
  variables: { clientId: string; clientSecret: string; forceRefresh?: boolean },
): Promise<GraphQLAnswer> {
  const response = await fetch(`${replica.origin}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: MUTATION, variables }),
  });
  const body = (await response.json()) as Omit<GraphQLAnswer, "status">;
  return { status: response.status, data: body.data, errors: body.errors };
}

/** The first error's code, or "ok". */
export function outcomeOf(answer: GraphQLAnswer): string {
  return answer.errors?.[0]?.extensions?.code ?? (answer.data?.accessToken ? "ok" : "no-data");
}

/** GET /readyz: HTTP status and body. */
export async function readiness(
  replica: Replica,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${replica.origin}/readyz`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A sample's value from /metrics (labels written as in the exposition, e.g. `{result="miss"}`). */
export async function metricValue(replica: Replica, sample: string): Promise<number> {
  const text = await (await fetch(`${replica.origin}/metrics`)).text();
  for (const line of text.split("\n")) {
    if (line.startsWith(`${sample} `)) return Number(line.slice(sample.length + 1));
  }
  return 0;
}

/** Every key under `prefix` (SCAN, never KEYS). */
export async function scanKeys(client: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await client.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", 500);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== "0");
  return [...new Set(keys)];
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis, prefix: string): Promise<void> {
  const keys = await scanKeys(client, prefix);
  if (keys.length > 0) await client.del(...keys);
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/** A port free right now on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A throwaway redis-server (no persistence) that tests may stop and start again on the same port. */
export class ThrowawayRedis {
  readonly port: number;
  #child: ChildProcessWithoutNullStreams | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<ThrowawayRedis> {
    const server = new ThrowawayRedis(await freePort());
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async resume(timeoutMs = 10_000): Promise<void> {
    const child = spawn(
      "redis-server",
      ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    this.#child = child;
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`redis-server not ready on ${this.port}:\n${output.join("\n")}`));
      }, timeoutMs);
      createInterface({ input: child.stdout }).on("line", (line) => {
        output.push(line);
        if (line.includes("Ready to accept connections")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited with ${code}:\n${output.join("\n")}`));
      });
    });
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers, as a hung Redis. */
  freeze(): void {
    this.#child?.kill("SIGSTOP");
  }

  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void {
    this.#child?.kill("SIGCONT");
  }

  /** Kills the server abruptly (as a crash or a network cut looks to clients). */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
  }
}

/** A unique key prefix for one test run on the shared Redis (keys are deleted by the test after). */
export function uniquePrefix(label: string): string {
  return `test:aspose-token:${label}:${process.pid}:${randomBytes(4).toString("hex")}:`;
}

/**
 * An in-process Redis connection with the service's own health tracking, for tests that drive the
 * shared store's classes directly. `up` is false for a server that does not answer.
 */
export async function connectHealth(
  url: string,
  options: { waitUp?: boolean; metrics?: ServiceMetrics; logger?: Logger } = {},
): Promise<{ client: Redis; health: RedisHealth; metrics: ServiceMetrics; close(): Promise<void> }> {
  const client = new Redis(url, {
    commandTimeout: 500,
    connectTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  const metrics = options.metrics ?? new ServiceMetrics({ defaultMetrics: false });
  const health = new RedisHealth(client, {
    logger: options.logger ?? pino({ level: "silent" }),
    observer: metrics,
    probeIntervalMs: 100,
    tripAfterMs: 1_000,
  });
  if (options.waitUp ?? true) await eventually("Redis to be up", () => health.up());
  return {
    client,
    health,
    metrics,
    async close() {
      health.close();
      client.disconnect();
    },
  };
}
