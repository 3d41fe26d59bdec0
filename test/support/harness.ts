/**
 * Runs the real service in-process on loopback, against the fake Aspose, with a real GraphQL client
 * over real HTTP. Logs are captured line by line so tests can prove no secret is ever written.
 */
import { request as httpRequest } from "node:http";
import { Writable } from "node:stream";
import type { TestContext } from "node:test";
import { ClientError, GraphQLClient } from "graphql-request";
import { type App, createApp } from "../../src/app.js";
import { loadConfig } from "../../src/config/index.js";
import { createLogger } from "../../src/observability/logger.js";
import { ServiceMetrics } from "../../src/observability/metrics.js";
import { createStores } from "../../src/stores/index.js";
import { FakeAspose, type FakeAsposeOptions } from "./fake-aspose.js";
import { ObservedTokenStore } from "./observed-store.js";

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
  /** Every response body the client received through `execute` or `post`. */
  readonly responses: string[];
  close(): Promise<void>;
}

/** Starts the fake Aspose and the service wired to it. */
export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const clock = options.clock ?? new TestClock();
  const fake = await FakeAspose.start({
    clients: { [CLIENT_ID]: CLIENT_SECRET },
    now: clock.now,
    ...options.fake,
  });
  const config = loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: "debug",
    ASPOSE_BASE_URL: fake.url,
    ASPOSE_TIMEOUT_MS: "2000",
    ASPOSE_TOTAL_TIMEOUT_MS: "4000",
    ASPOSE_RETRY_BASE_DELAY_MS: "1",
    ...options.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") logs.push(line);
      callback();
    },
  });
  const logger = createLogger(config.telemetry.logLevel, sink);
  const metrics = new ServiceMetrics({ defaultMetrics: false });
  const stores = createStores({ config, logger, metrics, clock: clock.now });
  const store = new ObservedTokenStore(stores.tokenStore);
  const app = createApp({
    config,
    logger,
    metrics,
    clock: clock.now,
    stores: { ...stores, tokenStore: store },
  });
  const address = await app.listen(0, "127.0.0.1");
  const origin = `http://127.0.0.1:${address.port}`;
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
    responses: [],
    async close() {
      await app.shutdown(1000);
      await fake.close();
    },
  };
}

export const ACCESS_TOKEN_MUTATION = /* GraphQL */ `
  mutation AccessToken($clientId: String!, $clientSecret: String!, $minValidity: Int, $forceRefresh: Boolean) {
    accessToken(clientId: $clientId, clientSecret: $clientSecret, minValidity: $minValidity, forceRefresh: $forceRefresh) {
      accessToken
      tokenType
      expiresIn
      expiresAt
      issuedAt
      fromCache
      scopes
      defaultStorage
    }
  }
`;

export interface AccessTokenFields {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  expiresAt: string;
  issuedAt: string;
  fromCache: boolean;
  scopes: string[];
  defaultStorage: string | null;
}

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; retryAfter?: number; [key: string]: unknown };
  path?: (string | number)[];
}

export interface ExecuteResult<T> {
  data: T | null | undefined;
  errors: GraphQLErrorShape[] | undefined;
  status: number;
}

/** Runs an operation with the real GraphQL client; GraphQL errors come back as data, not throws. */
export async function execute<T = { accessToken: AccessTokenFields }>(
  harness: Harness,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<ExecuteResult<T>> {
  try {
    const result = await harness.client.rawRequest<T>(query, variables);
    harness.responses.push(JSON.stringify(result));
    return {
      data: result.data,
      errors: result.errors as GraphQLErrorShape[] | undefined,
      status: result.status,
    };
  } catch (error) {
    if (error instanceof ClientError) {
      harness.responses.push(JSON.stringify(error.response));
      return {
        data: error.response.data as T | null | undefined,
        errors: error.response.errors as GraphQLErrorShape[] | undefined,
        status: error.response.status,
      };
    }
    throw error;
  }
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
): Promise<{ status: number; text: string; headers: Headers }> {
  if (options.localAddress !== undefined) {
    const reply = await postFrom(options.localAddress, `${harness.origin}${path}`, body, headers);
    harness.responses.push(reply.text);
    return reply;
  }
  const response = await fetch(`${harness.origin}${path}`, { method: "POST", body, headers });
  const text = await response.text();
  harness.responses.push(text);
  return { status: response.status, text, headers: response.headers };
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
  const haystacks = [...harness.logs, ...harness.responses];
  return secrets.filter((secret) => secret.length > 0 && haystacks.some((text) => text.includes(secret)));
}

/** A harness for one test, closed when the test ends. */
export async function harnessFor(t: TestContext, options: HarnessOptions = {}): Promise<Harness> {
  const harness = await startHarness(options);
  t.after(() => harness.close());
  return harness;
}

/** Tokens may appear in a successful response, never in a log line. */
export function tokensInLogs(harness: Harness, tokens: readonly string[]): string[] {
  return tokens.filter((token) => harness.logs.some((line) => line.includes(token)));
}
