/**
 * Runs the real service in-process on loopback, against the fake Aspose, with a real GraphQL client
 * over real HTTP. Logs are captured line by line so tests can prove no secret is ever written.
 */
import assert from "node:assert/strict";
import { EventEmitter, once } from "node:events";
import { request as httpRequest } from "node:http";
import type { TestContext } from "node:test";
import { GraphQLClient } from "graphql-request";
import { FakeAspose, type FakeAsposeOptions } from "../../dev/fake-aspose.js";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { ServiceMetrics } from "../../src/observability/metrics.js";
import type { Tracing } from "../../src/observability/tracing.js";
import { createStores } from "../../src/stores/index.js";
import { lineSink } from "./connector.js";
import {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  type ExecuteResult,
  executeOperation,
  type Reply,
  send,
} from "./graphql-client.js";
import { ObservedTokenStore } from "./observed-store.js";

export {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  type ExecuteResult,
  type GraphQLErrorShape,
  served,
} from "./graphql-client.js";

export const CLIENT_ID = "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77";
export const CLIENT_SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";

/** A clock tests move by hand; starts at a fixed, realistic instant. */
export class TestClock {
  #now: number;

  constructor(start = Date.UTC(2026, 10, 25, 12, 0, 0)) {
    this.#now = start;
  }

  readonly now = (): number => this.#now;

  advance(ms: number): void {
    this.#now += ms;
  }
}

export interface HarnessOptions {
  /** Environment overrides, as main.ts would read them. */
  readonly env?: Record<string, string>;
  readonly clock?: TestClock;
  readonly fake?: FakeAsposeOptions;
  /** An upstream already running (shared by replicas); the harness then neither starts nor closes one. */
  readonly upstream?: FakeAspose;
  /** OpenTelemetry as main.ts would start it (off when not given). */
  readonly tracing?: Tracing;
}

export interface Harness {
  readonly fake: FakeAspose;
  readonly app: App;
  /** The app's real token store, observed: a test can await lookups (see ObservedTokenStore). */
  readonly store: ObservedTokenStore;
  readonly metrics: ServiceMetrics;
  readonly url: string;
  readonly origin: string;
  readonly client: GraphQLClient;
  readonly clock: TestClock;
  /** Every log line the service wrote, raw JSON text. */
  readonly logs: string[];
  /** Every audit line the service wrote (AUDIT_LOG, captured apart from the service log). */
  readonly auditLogs: string[];
  /** The first audit line, written or to come, that `matches`: waits for it, up to `timeoutMs`. */
  auditLine(matches: (line: AuditRecord) => boolean, timeoutMs?: number): Promise<AuditRecord>;
  /** Every response body the client received through `execute` or `post`. */
  readonly responses: string[];
  close(): Promise<void>;
}

/** One audit line, parsed. */
export type AuditRecord = Readonly<Record<string, unknown>>;

/** Starts the fake Aspose and the service wired to it. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = options.clock ?? new TestClock();
  const fake =
    options.upstream ??
    (await FakeAspose.start({
      clients: { [CLIENT_ID]: CLIENT_SECRET },
      now: clock.now,
      ...options.fake,
    }));
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "debug",
    ASPOSE_BASE_URL: fake.url,
    ASPOSE_TIMEOUT_MS: "2000",
    ASPOSE_TOTAL_TIMEOUT_MS: "4000",
    ASPOSE_RETRY_BASE_DELAY_MS: "1",
    // With a shared store: long enough that a loaded machine does not turn a test of sharing into one
    // of the fallback. Tests about the deadline itself set their own.
    REDIS_TIMEOUT_MS: "1000",
    ...options.env,
  });
  const logs: string[] = [];
  const logger = createLogger(config.telemetry.logLevel, lineSink(logs));
  const auditLogs: string[] = [];
  const auditWritten = new EventEmitter();
  const auditSink = lineSink(auditLogs, (line) => auditWritten.emit("line", line));
  const metrics = new ServiceMetrics({ defaultMetrics: false });
  const stores = createStores({ config, logger, metrics, clock: clock.now });
  const store = new ObservedTokenStore(stores.tokenStore);
  const app = createApp({
    config,
    logger,
    metrics,
    clock: clock.now,
    stores: { ...stores, tokenStore: store },
    tracing: options.tracing,
    auditDestination: auditSink,
  });
  const address = await app.listen(0, "127.0.0.1");
  const origin = `${app.tls === undefined ? "http" : "https"}://127.0.0.1:${address.port}`;
  const url = `${origin}/graphql`;
  return {
    fake,
    app,
    store,
    metrics,
    url,
    origin,
    client: new GraphQLClient(url),
    clock,
    logs,
    auditLogs,
    async auditLine(matches, timeoutMs = 5_000) {
      const signal = AbortSignal.timeout(timeoutMs);
      for (let seen = 0; ; ) {
        for (; seen < auditLogs.length; seen++) {
          const record = JSON.parse(auditLogs[seen] ?? "{}") as AuditRecord;
          if (matches(record)) return record;
        }
        await once(auditWritten, "line", { signal });
      }
    },
    responses: [],
    async close() {
      await app.shutdown(1000);
      // A shared upstream belongs to whoever started it.
      if (options.upstream === undefined) await fake.close();
    },
  };
}

/** Runs an operation with the real GraphQL client; GraphQL errors come back as data, not throws. */
export async function execute<T = { accessToken: AccessTokenFields }>(
  harness: Harness,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<ExecuteResult<T>> {
  const { body, ...result } = await executeOperation<T>(harness.client, query, variables);
  harness.responses.push(body);
  return result;
}

/** The accessToken mutation with the given credentials and options. */
export function requestToken(
  harness: Harness,
  variables: { clientId?: string; clientSecret?: string; minValidity?: number; forceRefresh?: boolean } = {},
): Promise<ExecuteResult<{ accessToken: AccessTokenFields }>> {
  return execute(harness, ACCESS_TOKEN_MUTATION, {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    ...variables,
  });
}

const REPORT_MUTATION = /* GraphQL */ `
  mutation Report($clientId: String!, $clientSecret: String!, $rejectedToken: String, $forceRefresh: Boolean) {
    accessToken(clientId: $clientId, clientSecret: $clientSecret, rejectedToken: $rejectedToken, forceRefresh: $forceRefresh) {
      accessToken
      tokenType
      expiresIn
      expiresAt
      issuedAt
      fromCache
      stale
      scopes
      defaultStorage
    }
  }
`;

/** The accessToken mutation reporting `rejectedToken`, the token Aspose refused. */
export function reportRejected(
  harness: Harness,
  rejectedToken: string,
  variables: { forceRefresh?: boolean } = {},
): Promise<ExecuteResult<{ accessToken: AccessTokenFields }>> {
  return execute(harness, REPORT_MUTATION, {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    rejectedToken,
    ...variables,
  });
}

/** Any request to the service by path, its answer recorded like every other. */
export async function request(harness: Harness, path: string, init: RequestInit = {}): Promise<Reply> {
  const reply = await send(`${harness.origin}${path}`, init);
  harness.responses.push(reply.text);
  return reply;
}

/**
 * A raw HTTP POST to the service, for malformed and hostile requests a GraphQL client cannot send.
 * `localAddress` sends from another loopback address (127.0.0.2 ...), for tests where the caller's
 * address matters.
 */
export async function post(
  harness: Harness,
  body: string | Uint8Array,
  headers: Record<string, string> = { "content-type": "application/json" },
  path = "/graphql",
  options: { readonly localAddress?: string } = {},
): Promise<Reply> {
  if (options.localAddress !== undefined) {
    const reply = await postFrom(options.localAddress, `${harness.origin}${path}`, body, headers);
    harness.responses.push(reply.text);
    return reply;
  }
  // Copied into a Uint8Array over a plain ArrayBuffer: the DOM's BodyInit (in the program through
  // Hive Gateway's types) refuses a view that might be over a SharedArrayBuffer.
  const payload = typeof body === "string" ? body : new Uint8Array(body);
  return request(harness, path, { method: "POST", body: payload, headers });
}

// fetch cannot choose its source address; node:http can.
function postFrom(
  localAddress: string,
  url: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
): Promise<{ status: number; text: string; headers: Headers }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "POST", headers, localAddress }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => {
        const replyHeaders = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          if (typeof value === "string") replyHeaders.set(name, value);
        }
        resolve({
          status: response.statusCode ?? 0,
          text: Buffer.concat(chunks).toString("utf8"),
          headers: replyHeaders,
        });
      });
    });
    request.on("error", reject);
    request.end(body);
  });
}

/** Fails when any secret appears in any captured log line or response body. */
export function leakedSecrets(harness: Harness, secrets: readonly string[]): string[] {
  const haystacks = [...harness.logs, ...harness.auditLogs, ...harness.responses];
  return secrets.filter((secret) => secret.length > 0 && haystacks.some((text) => text.includes(secret)));
}

/** A harness for one test, closed when the test ends. */
export async function harnessFor(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const harness = await startHarness(options);
  t.after(() => harness.close());
  return harness;
}

/** Tokens may appear in a successful response, never in a log line (service or audit). */
export function tokensInLogs(harness: Harness, tokens: readonly string[]): string[] {
  const lines = [...harness.logs, ...harness.auditLogs];
  return tokens.filter((token) => lines.some((line) => line.includes(token)));
}

/** Every access token the service answered, read from the recorded answers. */
export function answeredTokens(harness: Harness): string[] {
  const tokens: string[] = [];
  for (const text of harness.responses) {
    for (const match of text.matchAll(/"accessToken":"([^"]+)"/g)) if (match[1]) tokens.push(match[1]);
  }
  return tokens;
}

/** Asserts that every value under one of `keys`, at any depth of a JSON log line, is censored. */
export function assertKeysRedacted(line: string, keys: ReadonlySet<string>): void {
  const walk = (value: unknown): void => {
    if (typeof value !== "object" || value === null) return;
    for (const [key, child] of Object.entries(value)) {
      if (keys.has(key)) assert.equal(child, "[REDACTED]", `log key ${key} not redacted: ${line}`);
      walk(child);
    }
  };
  walk(JSON.parse(line));
}
