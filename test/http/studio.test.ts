/**
 * Apollo Studio wiring without the network: usage reporting only with APOLLO_KEY (+ APOLLO_GRAPH_REF),
 * and the report that would leave carries neither variables nor headers. The report is caught at the
 * process's fetch, the network boundary, and decoded with Apollo's own protobuf definitions.
 * Introspection: on in development, off in production, INTROSPECTION overrides; the refusal names it.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { Report } from "@apollo/usage-reporting-protobuf";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  execute,
  type Harness,
  requestToken,
  startHarness,
} from "../support/harness.js";

const USAGE_ENDPOINT = "https://usage-reporting.api.apollographql.com/";
const APOLLO_KEY = "service:aspose-token-test:n0t-a-r3al-k3y";
const APOLLO_GRAPH_REF = "aspose-token-test@current";
const HEADER_SECRET = "Bearer h3ader-s3cret-that-must-stay-home";

interface CaughtReport {
  readonly apiKey: string | null;
  readonly raw: Buffer;
}

describe("usage reporting", () => {
  const realFetch = globalThis.fetch;
  let reports: CaughtReport[];

  beforeEach(() => {
    reports = [];
    globalThis.fetch = async (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (url.startsWith(USAGE_ENDPOINT)) {
        const raw = gunzipSync(Buffer.from(await new Response(init?.body).arrayBuffer()));
        reports.push({ apiKey: new Headers(init?.headers).get("x-api-key"), raw });
        return new Response("{}", { status: 200, headers: { "content-type": "application/json" } });
      }
      // Loopback only: the test itself and the harness. Anything else would be a real network call.
      if (!url.startsWith("http://127.0.0.1:")) throw new Error(`unexpected network call to ${url}`);
      return realFetch(input, init);
    };
  });
  afterEach(() => {
    globalThis.fetch = realFetch;
  });

  async function exercise(harness: Harness): Promise<string> {
    const response = await realFetch(harness.url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: HEADER_SECRET,
        "x-custom-credential": HEADER_SECRET,
        "apollographql-client-name": "studio-test",
      },
      body: JSON.stringify({
        query:
          "mutation AccessToken($clientId: String!, $clientSecret: String!) { accessToken(clientId: $clientId, clientSecret: $clientSecret) { accessToken } }",
        variables: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      }),
    });
    const body = (await response.json()) as { data?: { accessToken?: { accessToken?: string } } };
    const token = body.data?.accessToken?.accessToken ?? "";
    assert.notEqual(token, "");
    const failed = await requestToken(harness, { clientSecret: "wr0ng-s3cret-wr0ng-s3cret-000000" });
    assert.equal(failed.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS");
    return token;
  }

  test("with APOLLO_KEY and APOLLO_GRAPH_REF, reports go to Studio without variables or headers", async () => {
    const harness = await startHarness({ env: { APOLLO_KEY, APOLLO_GRAPH_REF } });
    let token: string;
    try {
      token = await exercise(harness);
    } finally {
      // Stopping flushes the buffered report.
      await harness.close();
    }
    assert.ok(reports.length >= 1, "a report was sent on stop");
    for (const report of reports) assert.equal(report.apiKey, APOLLO_KEY);

    const traces = reports.flatMap(({ raw }) =>
      Object.values(Report.decode(raw).tracesPerQuery).flatMap((entry) => entry.trace ?? []),
    );
    assert.ok(traces.length >= 1, "at least one operation was sent as a full trace");
    for (const trace of traces) {
      assert.ok(!(trace instanceof Uint8Array), "decoded trace");
      // Apollo keeps the variable names with empty values ("not sent"); a sent value would be JSON.
      for (const sent of Object.values(trace.details?.variablesJson ?? {})) assert.equal(sent, "");
      assert.deepEqual(trace.http?.requestHeaders ?? {}, {});
    }
    for (const { raw } of reports) {
      const text = raw.toString("latin1");
      assert.match(text, /AccessToken/, "the report is about our operation");
      for (const secret of [CLIENT_ID, CLIENT_SECRET, token, "h3ader-s3cret", "wr0ng-s3cret"]) {
        assert.ok(!text.includes(secret), "a credential, token or header reached the usage report");
      }
    }
  });

  test("without APOLLO_KEY, nothing is sent to Studio", async () => {
    const harness = await startHarness();
    try {
      await exercise(harness);
    } finally {
      await harness.close();
    }
    assert.deepEqual(reports, []);
  });

  test("APOLLO_KEY without APOLLO_GRAPH_REF is a config error naming APOLLO_GRAPH_REF, not the key", () => {
    assert.throws(
      () => loadConfig({ APOLLO_KEY }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.message.includes("APOLLO_GRAPH_REF") &&
        !error.message.includes("n0t-a-r3al-k3y"),
    );
  });
});

describe("introspection", () => {
  const INTROSPECTION_QUERY = "query { __schema { mutationType { name } } }";

  async function introspect(
    env: Record<string, string>,
  ): Promise<{ allowed: boolean; refusal: string | undefined; sdl: string }> {
    const harness = await startHarness({ env });
    try {
      const result = await execute<{ __schema: { mutationType: { name: string } } }>(
        harness,
        INTROSPECTION_QUERY,
      );
      const allowed = result.data?.__schema.mutationType.name === "Mutation";
      if (!allowed) assert.equal(result.errors?.[0]?.extensions?.code, "GRAPHQL_VALIDATION_FAILED");
      // The router and rover read the subgraph SDL through _service, which is not introspection.
      const service = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
      return { allowed, refusal: result.errors?.[0]?.message, sdl: service.data?._service.sdl ?? "" };
    } finally {
      await harness.close();
    }
  }

  test("on by default in development", async () => {
    assert.equal((await introspect({ NODE_ENV: "development" })).allowed, true);
  });

  test("off by default when NODE_ENV=production, while _service { sdl } still answers", async () => {
    const result = await introspect({ NODE_ENV: "production" });
    assert.equal(result.allowed, false);
    // The refusal names the setting an operator can change, not Apollo's constructor option.
    assert.match(result.refusal ?? "", /INTROSPECTION=on/);
    assert.doesNotMatch(result.refusal ?? "", /ApolloServer/);
    assert.match(result.sdl, /accessToken\(/);
  });

  test("INTROSPECTION overrides the default either way", async () => {
    assert.equal((await introspect({ NODE_ENV: "production", INTROSPECTION: "on" })).allowed, true);
    assert.equal((await introspect({ NODE_ENV: "development", INTROSPECTION: "off" })).allowed, false);
  });
});
