/**
 * Federation proven end to end: this subgraph's SDL (read over HTTP from `_service { sdl }`, as rover
 * and the router read it) composes with a second subgraph into a supergraph; Apollo Gateway serves it
 * on loopback and runs the accessToken mutation through to the real service and the fake Aspose.
 */
import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { after, before, test } from "node:test";
import { composeServices } from "@apollo/composition";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { parse } from "graphql";
import { decodeJwtClaims } from "../../dev/fake-aspose.js";
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

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

interface GatewayError {
  message: string;
  extensions?: {
    code?: string;
    serviceName?: string;
    /** Set by the gateway when a subgraph answered with a non-2xx status. */
    response?: { status?: number; body?: { errors?: GatewayError[] } };
  };
}

interface GatewayResult<T> {
  status: number;
  text: string;
  data: T | null | undefined;
  errors: GatewayError[] | undefined;
}

let harness: Harness;
let regions: RegionsSubgraph;
let subgraphSdl: string;
let supergraphSdl: string;
let gatewayServer: ApolloServer;
let gatewayUrl: string;

before(async () => {
  harness = await startHarness();
  regions = await startRegionsSubgraph();
  const service = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  subgraphSdl = service.data?._service.sdl ?? "";
  const composed = composeServices([
    { name: "aspose-token", typeDefs: parse(subgraphSdl), url: harness.url },
    { name: regions.name, typeDefs: regions.typeDefs, url: regions.url },
  ]);
  if (composed.errors !== undefined) {
    throw new Error(`composition failed: ${composed.errors.map((error) => error.message).join("; ")}`);
  }
  supergraphSdl = composed.supergraphSdl;
  gatewayServer = new ApolloServer({
    gateway: new ApolloGateway({ supergraphSdl, logger: quiet }),
    logger: quiet,
  });
  ({ url: gatewayUrl } = await startStandaloneServer(gatewayServer, {
    listen: { port: 0, host: "127.0.0.1" },
  }));
});

after(async () => {
  await gatewayServer?.stop();
  await regions?.stop();
  await harness?.close();
});

/** An operation sent to the gateway, as any GraphQL client would. */
async function throughGateway<T>(
  query: string,
  variables: Record<string, unknown> = {},
): Promise<GatewayResult<T>> {
  const { status, text, data, errors } = await readAnswer<T, GatewayError>(
    await postOperation(gatewayUrl, query, variables),
  );
  return { status, text, data, errors };
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

test("the subgraph serves its SDL at _service { sdl }, with the federation @link", () => {
  assert.match(subgraphSdl, /@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
  assert.match(subgraphSdl, /accessToken\(/);
});

test("it composes with a second subgraph into a supergraph", () => {
  assert.match(supergraphSdl, /join__Graph/);
  assert.match(
    supergraphSdl,
    /ASPOSE_TOKEN @join__graph\(name: "aspose-token", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/,
  );
  assert.match(supergraphSdl, /REGIONS @join__graph\(name: "regions"/);
  assert.match(supergraphSdl, /accessToken\(/);
  assert.match(supergraphSdl, /asposeRegions: \[String!\]!/);
});

test("accessToken runs end to end through the gateway: variables forwarded, token intact", async () => {
  const before = harness.fake.totalTokenRequests;
  const result = await throughGateway<{
    accessToken: { accessToken: string; tokenType: string; fromCache: boolean; expiresIn: number };
  }>(ACCESS_TOKEN_MUTATION, { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, forceRefresh: true });
  assert.equal(result.errors, undefined, result.text);
  const token = result.data?.accessToken;
  assert.equal(token?.tokenType, "Bearer");
  assert.equal(token?.fromCache, false);
  assert.ok(signedBy(token?.accessToken ?? ""), "the token is byte for byte the one Aspose signed");
  assert.equal(decodeJwtClaims(token?.accessToken ?? "").client_id, CLIENT_ID);
  // The subgraph refuses a secret that is not a variable, so a token proves the gateway forwarded
  // variables; the fake saw exactly the secret the client sent.
  assert.equal(harness.fake.totalTokenRequests, before + 1);
  assert.equal(harness.fake.requests.at(-1)?.form?.client_secret, CLIENT_SECRET);
});

test("a query to the second subgraph runs through the same gateway", async () => {
  const result = await throughGateway<{ asposeRegions: string[] }>("query Regions { asposeRegions }");
  assert.equal(result.errors, undefined, result.text);
  assert.deepEqual(result.data?.asposeRegions, ASPOSE_REGIONS);
});

test("INVALID_CREDENTIALS survives the gateway with its code and message, and no secret", async () => {
  const wrongSecret = "0000aaaa1111bbbb2222cccc3333dddd";
  const result = await throughGateway(ACCESS_TOKEN_MUTATION, {
    clientId: CLIENT_ID,
    clientSecret: wrongSecret,
  });
  assert.equal(result.data, null);
  assert.equal(result.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS");
  assert.equal(result.errors?.[0]?.extensions?.serviceName, "aspose-token");
  assert.match(result.errors?.[0]?.message ?? "", /Aspose rejected these client credentials/);
  assert.ok(!result.text.includes(wrongSecret));
});

test("BAD_USER_INPUT survives the gateway, and nothing reaches Aspose", async () => {
  const before = harness.fake.totalTokenRequests;
  const result = await throughGateway(ACCESS_TOKEN_MUTATION, {
    clientId: "   ",
    clientSecret: CLIENT_SECRET,
  });
  assert.equal(result.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
  assert.equal(result.errors?.[0]?.extensions?.serviceName, "aspose-token");
  assert.equal(harness.fake.totalTokenRequests, before);
  assert.ok(!result.text.includes(CLIENT_SECRET));
});

test("a secret inlined as a literal is refused by the subgraph behind the gateway, never sent upstream", async () => {
  const before = harness.fake.totalTokenRequests;
  const inline = "inline5ecret5hould5neverbe5een00";
  const result = await throughGateway(
    `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${inline}") { accessToken } }`,
  );
  assert.equal(harness.fake.totalTokenRequests, before);
  assert.equal(result.data, null);
  assert.ok(!result.text.includes(inline), "the refusal does not echo the secret");
  // The gateway keeps literals in the subgraph operation, and the subgraph refuses it at validation
  // with HTTP 400; Apollo Gateway turns any non-2xx subgraph answer into its own error and keeps the
  // subgraph's coded error under extensions.response.body.
  const response = result.errors?.[0]?.extensions?.response;
  assert.equal(response?.status, 400);
  assert.equal(response?.body?.errors?.[0]?.extensions?.code, "BAD_USER_INPUT");
});
