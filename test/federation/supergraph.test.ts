/**
 * Federation proven end to end, through the gateways integrators actually run: this subgraph's SDL
 * (read over HTTP from `_service { sdl }`, as rover and the router read it) composes with a second
 * subgraph; Apollo Gateway and Hive Gateway (plain, and with the recipe in gateways/hive) serve the
 * supergraph on loopback; the mutation and every refusal run through each, and the test asserts the
 * top-level code each client sees.
 */
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { decodeJwtClaims } from "../../dev/fake-aspose.js";
import { gatewayConfig } from "../../gateways/hive/gateway.config.js";
import {
  composeSupergraph,
  type RunningGateway,
  startApolloGateway,
  startHiveGateway,
} from "../support/gateways.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  execute,
  type Harness,
  startHarness,
} from "../support/harness.js";
import { ASPOSE_REGIONS, type RegionsSubgraph, startRegionsSubgraph } from "../support/second-subgraph.js";

interface GatewayError {
  message: string;
  extensions?: { code?: string; serviceName?: string };
}

let harness: Harness;
let regions: RegionsSubgraph;
let subgraphSdl: string;
let supergraphSdl: string;
const gateways: Record<"apollo" | "hive" | "hiveRecipe", RunningGateway | undefined> = {
  apollo: undefined,
  hive: undefined,
  hiveRecipe: undefined,
};

before(async () => {
  // Each gateway forces a refresh to prove the call reaches Aspose: no forceRefresh bound here.
  harness = await startHarness({ env: { FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0" } });
  regions = await startRegionsSubgraph();
  const service = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  subgraphSdl = service.data?._service.sdl ?? "";
  supergraphSdl = composeSupergraph({ sdl: subgraphSdl, url: harness.url }, regions);
  const { supergraph: _file, ...recipe } = gatewayConfig;
  [gateways.apollo, gateways.hive, gateways.hiveRecipe] = await Promise.all([
    startApolloGateway(supergraphSdl),
    startHiveGateway(supergraphSdl),
    startHiveGateway(supergraphSdl, recipe),
  ]);
});

after(async () => {
  await Promise.all(Object.values(gateways).map((gateway) => gateway?.stop()));
  await regions?.stop();
  await harness?.close();
});

function gateway(name: keyof typeof gateways): RunningGateway {
  const running = gateways[name];
  assert.ok(running !== undefined, `${name} did not start`);
  return running;
}

/** An operation sent to a gateway, as any GraphQL client would (Accept: application/json). */
async function through<T = unknown>(
  name: keyof typeof gateways,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
) {
  return readAnswer<T, GatewayError>(
    await postOperation(gateway(name).url, query, variables, { accept: "application/json", ...headers }),
  );
}

function signedBy(token: string): boolean {
  const [header, payload, signature] = token.split(".");
  if (header === undefined || payload === undefined || signature === undefined) return false;
  return verify(
    "sha256",
    Buffer.from(`${header}.${payload}`),
    harness.fake.publicKey,
    Buffer.from(signature, "base64url"),
  );
}

const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
const TOKEN_FIELD = "accessToken(clientId: $clientId, clientSecret: $clientSecret) { tokenType }";
const INLINE_SECRET = "inline5ecret5hould5neverbe5een00";

/** The refusals a client can meet, each a document this subgraph refuses at validation. */
const REFUSALS = {
  "an inline clientSecret": {
    query: `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${INLINE_SECRET}") { tokenType } }`,
    variables: {},
  },
  "four accessToken fields (the limit is 3)": {
    query: `mutation Four($clientId: String!, $clientSecret: String!) {
      a: ${TOKEN_FIELD} b: ${TOKEN_FIELD} c: ${TOKEN_FIELD} d: ${TOKEN_FIELD} }`,
    variables: CREDENTIALS,
  },
  "eleven aliases (the limit is 10)": {
    query: `mutation Aliases($clientId: String!, $clientSecret: String!) {
      accessToken(clientId: $clientId, clientSecret: $clientSecret) {
        ${Array.from({ length: 11 }, (_, i) => `t${i}: tokenType`).join(" ")} } }`,
    variables: CREDENTIALS,
  },
} as const;

test("the subgraph serves its SDL at _service { sdl }, and it composes with a second subgraph", () => {
  assert.match(subgraphSdl, /@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
  assert.match(supergraphSdl, /join__Graph/);
  assert.match(
    supergraphSdl,
    /ASPOSE_TOKEN @join__graph\(name: "aspose-token", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/,
  );
  assert.match(supergraphSdl, /REGIONS @join__graph\(name: "regions"/);
  assert.match(supergraphSdl, /accessToken\(/);
  assert.match(supergraphSdl, /asposeRegions: \[String!\]!/);
});

for (const name of ["apollo", "hive", "hiveRecipe"] as const) {
  describe(`through ${name === "apollo" ? "Apollo Gateway" : name === "hive" ? "Hive Gateway" : "Hive Gateway with gateways/hive"}`, () => {
    test("accessToken runs end to end: variables forwarded, token intact", async () => {
      const before = harness.fake.totalTokenRequests;
      const result = await through<{ accessToken: { accessToken: string; tokenType: string } }>(
        name,
        ACCESS_TOKEN_MUTATION,
        { ...CREDENTIALS, forceRefresh: true },
      );
      assert.equal(result.status, 200);
      assert.equal(result.errors, undefined, result.text);
      const token = result.data?.accessToken;
      assert.equal(token?.tokenType, "Bearer");
      assert.ok(signedBy(token?.accessToken ?? ""), "the token is byte for byte the one Aspose signed");
      assert.equal(decodeJwtClaims(token?.accessToken ?? "").client_id, CLIENT_ID);
      assert.equal(harness.fake.totalTokenRequests, before + 1);
      assert.equal(harness.fake.requests.at(-1)?.form?.client_secret, CLIENT_SECRET);
    });

    test("a query to the second subgraph runs through the same gateway", async () => {
      const result = await through<{ asposeRegions: string[] }>(name, "query Regions { asposeRegions }");
      assert.equal(result.errors, undefined, result.text);
      assert.deepEqual(result.data?.asposeRegions, ASPOSE_REGIONS);
    });

    test("INVALID_CREDENTIALS reaches the client as the top-level code, without the secret", async () => {
      const wrongSecret = "0000aaaa1111bbbb2222cccc3333dddd";
      const result = await through(name, ACCESS_TOKEN_MUTATION, {
        clientId: CLIENT_ID,
        clientSecret: wrongSecret,
      });
      assert.equal(result.status, 200);
      assert.equal(result.data, null);
      assert.equal(result.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS", result.text);
      assert.match(result.errors?.[0]?.message ?? "", /Aspose rejected these client credentials/);
      assert.ok(!result.text.includes(wrongSecret));
    });

    test("BAD_USER_INPUT from the resolver reaches the client, and nothing reaches Aspose", async () => {
      const before = harness.fake.totalTokenRequests;
      const result = await through(name, ACCESS_TOKEN_MUTATION, {
        clientId: "   ",
        clientSecret: CLIENT_SECRET,
      });
      assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", result.text);
      assert.equal(harness.fake.totalTokenRequests, before);
      assert.ok(!result.text.includes(CLIENT_SECRET));
    });

    for (const [refusal, operation] of Object.entries(REFUSALS)) {
      // Hive Gateway rewrites an inline literal into a variable and sends each aliased accessToken
      // field as its own subgraph request: behind it, only the gateway can hold those two rules.
      const passesPlainHive = name === "hive" && !refusal.startsWith("eleven aliases");
      test(`${refusal}: ${passesPlainHive ? "NOT refused behind a plain Hive Gateway (see gateways/hive)" : "BAD_USER_INPUT at the top level, nothing sent upstream"}`, async () => {
        const before = harness.fake.totalTokenRequests;
        const result = await through(name, operation.query, operation.variables);
        assert.ok(!result.text.includes(INLINE_SECRET), "no refusal echoes the secret");
        if (passesPlainHive) {
          // The inline secret went to Aspose (which refused this made-up one); the four fields each
          // came back with a token.
          const codes = (result.errors ?? []).map((error) => error.extensions?.code);
          assert.ok(!codes.includes("BAD_USER_INPUT"), result.text);
          if (refusal.startsWith("an inline")) {
            assert.deepEqual(codes, ["INVALID_CREDENTIALS"], result.text);
            assert.equal(harness.fake.totalTokenRequests, before + 1);
          } else {
            assert.equal(result.errors, undefined, result.text);
            assert.equal(Object.keys(result.data ?? {}).length, 4);
          }
          return;
        }
        assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT", result.text);
        assert.ok(result.data === null || result.data === undefined, result.text);
        assert.equal(harness.fake.totalTokenRequests, before);
      });
    }
  });
}

test("the Hive recipe forwards x-forwarded-for (the client's address appended), x-request-id and traceparent", async () => {
  const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const result = await through(
    "hiveRecipe",
    "query Regions { asposeRegions }",
    {},
    {
      "x-request-id": "gw-recipe-req-1",
      "x-forwarded-for": "203.0.113.7",
      traceparent,
    },
  );
  assert.equal(result.errors, undefined, result.text);
  const seen = regions.lastHeaders();
  assert.equal(seen["x-request-id"], "gw-recipe-req-1");
  assert.equal(seen.traceparent, traceparent);
  assert.equal(seen["x-forwarded-for"], "203.0.113.7, 127.0.0.1");

  // And on this subgraph: its log line carries the gateway's request id.
  await through("hiveRecipe", ACCESS_TOKEN_MUTATION, CREDENTIALS, { "x-request-id": "gw-recipe-req-2" });
  assert.ok(
    harness.logs.some(
      (line) => line.includes('"requestId":"gw-recipe-req-2"') && line.includes('"path":"/graphql"'),
    ),
    "the subgraph logged the forwarded request id",
  );
});
