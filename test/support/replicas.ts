/**
 * Runs the real service as separate processes (`node --import tsx src/main.ts`), as replicas behind a
 * router would be, and throwaway Redis servers to stop and restart under them. Output is captured line
 * by line so tests can read logs; the "ready" line is found by its `port` field only, so a change to its
 * message or other fields does not break the helpers.
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { Cluster, Redis } from "ioredis";
import { type Logger, pino } from "pino";
import { freePort } from "../../dev/ports.js";
import { type Child, spawnChild } from "../../dev/spawn.js";
import type { App } from "../../src/app.js";
import { ServiceMetrics } from "../../src/observability/metrics.js";
import { RedisHealth } from "../../src/stores/redis/redis-health.js";
import { postOperation, readAnswer } from "./graphql-client.js";
import { type ReadyService, startService } from "./process.js";

/** One service process, named for the replica it plays. */
export class Replica {
  readonly name: string;
  readonly origin: string;
  readonly #service: ReadyService;

  private constructor(name: string, service: ReadyService) {
    this.name = name;
    this.origin = service.origin;
    this.#service = service;
  }

  /**
   * Spawns the service with `env` on top of test defaults (PORT=0; a Redis deadline a loaded machine
   * meets, as in startHarness) and waits for its ready line.
   */
  static async start(name: string, env: Record<string, string>, readyTimeoutMs = 20_000): Promise<Replica> {
    const defaults = { NODE_ENV: "test", LOG_LEVEL: "info", REDIS_TIMEOUT_MS: "1000" };
    try {
      return new Replica(name, await startService({ ...defaults, ...env }, readyTimeoutMs));
    } catch (error) {
      throw new Error(`${name} did not start: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** Every line the process wrote to stdout (JSON log lines) and stderr. */
  get logs(): string[] {
    return this.#service.lines;
  }

  /** SIGTERM, then SIGKILL past the deadline; resolves with the exit code. */
  async stop(deadlineMs = 10_000): Promise<number | null> {
    return (await this.#service.stop(deadlineMs)).code;
  }

  /** Parsed JSON log lines (others skipped). */
  jsonLogs(): Record<string, unknown>[] {
    return this.#service.logs;
  }
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

/**
 * Resolves once an in-process service has reached its Redis. A test about shared state starts after
 * this: a request made before is served from local state (the start-up gap), as it should be.
 */
export async function reachedRedis(service: { readonly app: App }): Promise<void> {
  await eventually("the replica to reach Redis", () => service.app.stores.readiness().redis === "up");
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
  const { status, data, errors } = await readAnswer<GraphQLAnswer["data"] & object>(
    await postOperation(`${replica.origin}/graphql`, MUTATION, variables),
  );
  return { status, data, errors };
}

/** The first error's code, or "ok". */
export function outcomeOf(answer: GraphQLAnswer): string {
  return answer.errors?.[0]?.extensions?.code ?? (answer.data?.accessToken ? "ok" : "no-data");
}

/** GET /readyz of a replica process or an in-process service: HTTP status and body. */
export async function readiness(service: {
  readonly origin: string;
}): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${service.origin}/readyz`);
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

/** Every key under `prefix` (SCAN, never KEYS); on a cluster, on every master. */
export async function scanKeys(client: Redis | Cluster, prefix: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, batch] = await node.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", 500);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== "0");
  }
  return [...new Set(keys)];
}

/** Deletes every key under `prefix`. */
export async function deleteKeys(client: Redis | Cluster, prefix: string): Promise<void> {
  // One DEL per key: on a cluster the keys live in different slots.
  for (const key of await scanKeys(client, prefix)) await client.del(key);
}

/**
 * Fails if any key name or value (strings, hashes, sorted sets), raw or decoded from base64 as sealed
 * entries are, holds any of `forbidden`.
 */
export async function assertNothingInClear(
  client: Redis | Cluster,
  keys: readonly string[],
  forbidden: readonly string[],
): Promise<void> {
  for (const key of keys) {
    const values: Buffer[] = [];
    const type = await client.type(key);
    if (type === "string") values.push((await client.getBuffer(key)) ?? Buffer.alloc(0));
    else if (type === "hash") {
      const fields = await client.hgetallBuffer(key);
      values.push(...Object.keys(fields).map((field) => Buffer.from(field)), ...Object.values(fields));
    } else if (type === "zset") values.push(...(await client.zrangeBuffer(key, "0", "-1")));
    else if (type !== "none") assert.fail(`unexpected ${type} at ${key}`);
    for (const clear of forbidden) {
      assert.equal(key.includes(clear), false, `key name ${key} holds a secret`);
      for (const value of values) {
        const decoded = Buffer.from(value.toString("latin1"), "base64url");
        assert.equal(value.includes(Buffer.from(clear)), false, `value at ${key} holds a secret`);
        assert.equal(decoded.includes(Buffer.from(clear)), false, `decoded value at ${key} holds a secret`);
      }
    }
  }
}

function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, (char) => `\\${char}`);
}

/** How a throwaway server runs beyond its port: extra arguments, and the line that says it is ready. */
export interface ThrowawayRedisOptions {
  /** Placed first: a config file path (Sentinel) must come before the options. */
  readonly leadingArgs?: readonly string[];
  readonly args?: readonly string[];
  readonly port?: number;
  /** Defaults to Redis's "Ready to accept connections"; Sentinel writes "+monitor" instead. */
  readonly readyLine?: string;
}

/** A throwaway redis-server (no persistence) that tests may stop and start again on the same port. */
export class ThrowawayRedis {
  readonly port: number;
  readonly #options: ThrowawayRedisOptions;
  #child: Child | undefined;

  private constructor(port: number, options: ThrowawayRedisOptions) {
    this.port = port;
    this.#options = options;
  }

  static async start(options: ThrowawayRedisOptions = {}): Promise<ThrowawayRedis> {
    requireRedisServer();
    const server = new ThrowawayRedis(options.port ?? (await freePort()), options);
    await server.resume();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** True while the process runs. */
  get running(): boolean {
    return this.#child !== undefined && !this.#child.hasExited();
  }

  /** Starts the server (again) on its port; resolves once it accepts connections. */
  async resume(timeoutMs = 10_000): Promise<void> {
    const { leadingArgs = [], args = [], readyLine = "Ready to accept connections" } = this.#options;
    const child = spawnChild({
      command: "redis-server",
      args: [
        ...leadingArgs,
        ...["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        ...args,
      ],
      env: {},
    });
    this.#child = child;
    try {
      await child.waitForLine((line) => line.includes(readyLine), "its ready line", timeoutMs);
    } catch (error) {
      await child.kill();
      throw error;
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing answers, as a hung Redis. */
  freeze(): void {
    this.#child?.child.kill("SIGSTOP");
  }

  /** Lets a frozen server go on (SIGCONT). */
  thaw(): void {
    this.#child?.child.kill("SIGCONT");
  }

  /** Kills the server abruptly (as a crash or a network cut looks to clients). */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    await child?.kill();
  }
}

/** The one line a machine without a usable redis-server gets, with the command that fixes it. */
export const REDIS_SERVER_MISSING =
  "The shared-store tests start their own Redis from the redis-server binary (Redis >= 7.0), which is not installed: apt-get install redis-server";

let redisServerChecked = false;

/** Throws REDIS_SERVER_MISSING unless `redis-server` 7.0 or newer is on the PATH. */
export function requireRedisServer(): void {
  if (redisServerChecked) return;
  let version: string;
  try {
    version = execFileSync("redis-server", ["--version"], { encoding: "utf8" });
  } catch {
    throw new Error(REDIS_SERVER_MISSING);
  }
  const major = Number(/v=(\d+)\./.exec(version)?.[1]);
  if (!(major >= 7)) throw new Error(`${REDIS_SERVER_MISSING} (found: ${version.trim()})`);
  redisServerChecked = true;
}

/**
 * One throwaway Redis for a test file, killed in `after`; the suite needs nothing running beforehand.
 * Top-level `before` hooks do not wait for each other: a file's own hook awaits `started()`.
 */
export function throwawayRedisFor(options: ThrowawayRedisOptions = {}): {
  readonly url: string;
  started(): Promise<string>;
} {
  let starting: Promise<ThrowawayRedis> | undefined;
  let server: ThrowawayRedis | undefined;
  const start = async (): Promise<string> => {
    starting ??= ThrowawayRedis.start(options);
    server = await starting;
    return server.url;
  };
  before(start);
  after(async () => {
    await (await starting)?.kill();
  });
  return {
    get url() {
      if (server === undefined) throw new Error("throwawayRedisFor: read before the before() hook ran");
      return server.url;
    },
    started: start,
  };
}

/** A unique key prefix for one test run on the shared Redis (keys are deleted by the test after). */
export function uniquePrefix(label: string): string {
  return `test:aspose-token:${label}:${process.pid}:${randomBytes(4).toString("hex")}:`;
}

/** What replicas sharing one store set beside its address: their own key prefix, one TOKEN_CACHE_KEY. */
export function sharingEnv(label: string): { REDIS_KEY_PREFIX: string; TOKEN_CACHE_KEY: string } {
  return { REDIS_KEY_PREFIX: uniquePrefix(label), TOKEN_CACHE_KEY: randomBytes(32).toString("base64") };
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
    // A backstop behind the health's own deadline, as in connect.ts.
    commandTimeout: 4_000,
    connectTimeout: 1_000,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    retryStrategy: () => 100,
  });
  const metrics = options.metrics ?? new ServiceMetrics({ defaultMetrics: false });
  const health = new RedisHealth(client, {
    topology: "standalone",
    // As startHarness's REDIS_TIMEOUT_MS: a deadline a loaded machine meets, so a test of sharing does
    // not become one of the fallback.
    deadlineMs: 1_000,
    logger: options.logger ?? pino({ level: "silent" }),
    observer: metrics.sharedStore,
    probeIntervalMs: 100,
    tripAfterMs: 1_000,
    logIntervalMs: 5_000,
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
