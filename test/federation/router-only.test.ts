/**
 * Router-only access, each proof through the gateway that sends it, run from the recipes as written:
 * the shared-secret header through Apollo Gateway (gateways/apollo-gateway), Hive Gateway's HMAC
 * signature through Hive Gateway (gateways/hive). The router's requests pass; a direct caller without
 * the proof, or with a wrong one, is refused with 403 ROUTER_ONLY before anything reaches Aspose and is
 * counted; the probes and metrics keep answering on the admin port; the secrets appear nowhere.
 */
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { composeServices } from "@apollo/composition";
import { defaultParamsSerializer } from "@graphql-mesh/hmac-upstream-signature";
import fc from "fast-check";
import { parse } from "graphql";
import { startGateway } from "../../gateways/apollo-gateway/gateway.js";
import { signedText } from "../../src/graphql/perimeter/hmac-signature.js";
import { startHiveGateway } from "../support/gateways.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  leakedSecrets,
  post,
  startHarness,
} from "../support/harness.js";

const SECRET = "rT3x9Qv2Lm8Kp4Zw6Yb1Nc7Hd5Jf0Gs2Ua4Ie6Oq8=";
const PREVIOUS_SECRET = "oLd5Ecr3tStillAccepted0WhileRotating00000=";
const HMAC_KEY = "hM4cK3yShar3dW1thH1veGat3way0000000000000=";
const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
const STATUS_QUERY = "query Status { asposeTokenService { version ready } }";

interface GatewayAnswer {
  accessToken?: { tokenType: string };
  asposeTokenService?: { version: string };
}

let directory: string;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "router-only-"));
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

/** The supergraph of this subgraph alone, written where a gateway's SUPERGRAPH_FILE can name it. */
async function supergraphFile(harness: Harness, name: string): Promise<{ file: string; sdl: string }> {
  // Read as the router reads it, with the router's secret.
  const served = await readAnswer<{ _service: { sdl: string } }>(
    await postOperation(
      harness.url,
      "{ _service { sdl } }",
      {},
      {
        accept: "application/json",
        "router-authorization": SECRET,
      },
    ),
  );
  const sdl = served.data?._service.sdl ?? "";
  const composed = composeServices([{ name: "aspose-token", typeDefs: parse(sdl), url: harness.url }]);
  assert.ok(composed.supergraphSdl !== undefined, composed.errors?.map((error) => error.message).join("; "));
  const file = join(directory, `${name}.graphql`);
  await writeFile(file, composed.supergraphSdl);
  return { file, sdl: composed.supergraphSdl };
}

function adminOrigin(harness: Harness): string {
  const address = harness.app.adminServer?.address() as AddressInfo | null | undefined;
  assert.ok(address, "the admin port is listening");
  return `http://127.0.0.1:${address.port}`;
}

async function metricsOf(harness: Harness): Promise<string> {
  const answer = await fetch(`${adminOrigin(harness)}/metrics`);
  assert.equal(answer.status, 200);
  return answer.text();
}

function refusals(metrics: string, reason: string): number {
  const match = new RegExp(`^perimeter_refusals_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(metrics);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

/** A direct caller: a plain JSON POST to the subgraph, as a pod next door would send it. */
async function direct(
  harness: Harness,
  query: string,
  variables: Record<string, unknown>,
  headers: Record<string, string> = {},
) {
  const reply = await post(harness, JSON.stringify({ query, variables }), {
    "content-type": "application/json",
    ...headers,
  });
  return {
    ...reply,
    json: JSON.parse(reply.text) as { errors?: { extensions?: { code?: string } }[]; data?: unknown },
  };
}

function assertRouterOnly(reply: Awaited<ReturnType<typeof direct>>): void {
  assert.equal(reply.status, 403, reply.text);
  assert.equal(reply.json.errors?.[0]?.extensions?.code, "ROUTER_ONLY", reply.text);
  assert.equal(reply.json.data, undefined);
}

describe("a shared secret, sent by Apollo Gateway (gateways/apollo-gateway)", () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness({
      env: {
        ROUTER_SECRET: SECRET,
        ROUTER_SECRET_PREVIOUS: PREVIOUS_SECRET,
        ADMIN_PORT: "0",
        ADMIN_HOST: "127.0.0.1",
        FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0",
      },
    });
  });

  after(async () => {
    await harness.close();
  });

  async function throughGateway(secret: string, query: string, variables: Record<string, unknown> = {}) {
    const { file } = await supergraphFile(harness, `apollo-${secret.slice(0, 4)}`);
    const gateway = await startGateway({
      SUPERGRAPH_FILE: file,
      PORT: "0",
      HOST: "127.0.0.1",
      ROUTER_SECRET: secret,
    });
    try {
      return await readAnswer<GatewayAnswer>(
        await postOperation(gateway.url, query, variables, { accept: "application/json" }),
      );
    } finally {
      await gateway.stop();
    }
  }

  test("the gateway's requests pass, with the current secret and with the previous one (rotation)", async () => {
    for (const secret of [SECRET, PREVIOUS_SECRET]) {
      const before = harness.fake.totalTokenRequests;
      const token = await throughGateway(secret, ACCESS_TOKEN_MUTATION, {
        ...CREDENTIALS,
        forceRefresh: true,
      });
      assert.equal(token.errors, undefined, token.text);
      assert.equal(token.data?.accessToken?.tokenType, "Bearer");
      assert.equal(harness.fake.totalTokenRequests, before + 1);
      const status = await throughGateway(secret, STATUS_QUERY);
      assert.equal(status.errors, undefined, status.text);
    }
  });

  test("a gateway with another secret is refused, and the refusal is counted as secret_wrong", async () => {
    const before = refusals(await metricsOf(harness), "secret_wrong");
    const answer = await throughGateway("an0ther5ecretTheSubgraphDoesNotKnow00000=", STATUS_QUERY);
    assert.equal(answer.data, null);
    // Apollo Gateway turns the subgraph's 403 into an error of its own.
    assert.match(answer.text, /403/);
    assert.equal(refusals(await metricsOf(harness), "secret_wrong"), before + 1);
  });

  test("a direct caller without the header, or with a wrong one, is refused 403 ROUTER_ONLY before Aspose", async () => {
    const metricsBefore = await metricsOf(harness);
    const upstreamBefore = harness.fake.totalTokenRequests;
    assertRouterOnly(await direct(harness, ACCESS_TOKEN_MUTATION, CREDENTIALS));
    assertRouterOnly(
      await direct(harness, ACCESS_TOKEN_MUTATION, CREDENTIALS, { "router-authorization": "guess" }),
    );
    assertRouterOnly(
      await direct(harness, ACCESS_TOKEN_MUTATION, CREDENTIALS, { "router-authorization": `${SECRET}x` }),
    );
    assert.equal(harness.fake.totalTokenRequests, upstreamBefore);
    const metrics = await metricsOf(harness);
    assert.equal(refusals(metrics, "secret_missing"), refusals(metricsBefore, "secret_missing") + 1);
    assert.equal(refusals(metrics, "secret_wrong"), refusals(metricsBefore, "secret_wrong") + 2);
    assert.match(metrics, /graphql_requests_total\{outcome="ROUTER_ONLY"\} \d+/);
  });

  test("_service { sdl } is answered to the router only", async () => {
    assertRouterOnly(await direct(harness, "{ _service { sdl } }", {}));
    const router = await direct(harness, "{ _service { sdl } }", {}, { "router-authorization": SECRET });
    assert.equal(router.status, 200);
    assert.match(router.text, /accessToken/);
  });

  test("the probes and metrics keep answering on the admin port", async () => {
    const origin = adminOrigin(harness);
    assert.equal((await fetch(`${origin}/healthz`)).status, 200);
    assert.equal((await fetch(`${origin}/readyz`)).status, 200);
    assert.match(await metricsOf(harness), /perimeter_refusals_total/);
  });

  test("neither secret appears in a log line, an answer or the metrics", async () => {
    const metrics = await metricsOf(harness);
    for (const secret of [SECRET, PREVIOUS_SECRET]) assert.ok(!metrics.includes(secret));
    assert.deepEqual(leakedSecrets(harness, [SECRET, PREVIOUS_SECRET, CLIENT_SECRET]), []);
  });
});

describe("Hive Gateway's HMAC signature (gateways/hive, with ROUTER_HMAC_SECRET)", () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness({
      env: {
        ROUTER_HMAC_SECRET: HMAC_KEY,
        ADMIN_PORT: "0",
        ADMIN_HOST: "127.0.0.1",
        FORCE_REFRESH_MIN_INTERVAL_SECONDS: "0",
      },
    });
  });

  after(async () => {
    await harness.close();
  });

  async function recipe() {
    // The recipe reads ROUTER_HMAC_SECRET from its environment when it is loaded, as the CLI loads it.
    process.env.ROUTER_HMAC_SECRET = HMAC_KEY;
    const { gatewayConfig } = await import("../../gateways/hive/gateway.config.js");
    const { supergraph: _file, ...config } = gatewayConfig;
    return config;
  }

  async function throughHive(
    config: Awaited<ReturnType<typeof recipe>>,
    query: string,
    variables: Record<string, unknown> = {},
  ) {
    const sdl = await signedSupergraph();
    const gateway = await startHiveGateway(sdl, config);
    try {
      return await readAnswer<GatewayAnswer>(
        await postOperation(gateway.url, query, variables, { accept: "application/json" }),
      );
    } finally {
      await gateway.stop();
    }
  }

  async function signedSupergraph(): Promise<string> {
    const query = "{ _service { sdl } }";
    const signature = createHmac("sha256", HMAC_KEY)
      .update(defaultParamsSerializer({ query }) ?? "")
      .digest("base64");
    // Unsigned, the SDL is refused; signed as Hive's plugin signs, it is served.
    assertRouterOnly(await direct(harness, query, {}));
    const signed = await post(
      harness,
      JSON.stringify({ query, extensions: { "hmac-signature": signature } }),
      { "content-type": "application/json" },
    );
    const sdl = (JSON.parse(signed.text) as { data: { _service: { sdl: string } } }).data._service.sdl;
    const composed = composeServices([{ name: "aspose-token", typeDefs: parse(sdl), url: harness.url }]);
    assert.ok(composed.supergraphSdl !== undefined);
    return composed.supergraphSdl;
  }

  test("the recipe's signed requests pass: the mutation and the query root", async () => {
    const config = await recipe();
    const before = harness.fake.totalTokenRequests;
    const token = await throughHive(config, ACCESS_TOKEN_MUTATION, { ...CREDENTIALS, forceRefresh: true });
    assert.equal(token.errors, undefined, token.text);
    assert.equal(token.data?.accessToken?.tokenType, "Bearer");
    assert.equal(harness.fake.totalTokenRequests, before + 1);
    const status = await throughHive(config, STATUS_QUERY);
    assert.equal(status.errors, undefined, status.text);
  });

  test("a Hive Gateway signing with another key is refused, counted as signature_wrong", async () => {
    const config = await recipe();
    const before = refusals(await metricsOf(harness), "signature_wrong");
    const answer = await throughHive(
      {
        ...config,
        hmacSignature: { secret: "n0tTheSubgraphsKey000000000000000000000000=", shouldSign: () => true },
      },
      STATUS_QUERY,
    );
    assert.equal(answer.data, null, answer.text);
    assert.equal(refusals(await metricsOf(harness), "signature_wrong"), before + 1);
  });

  test("a direct caller is refused: unsigned, or replaying a signature with other variables", async () => {
    const upstreamBefore = harness.fake.totalTokenRequests;
    assertRouterOnly(await direct(harness, ACCESS_TOKEN_MUTATION, CREDENTIALS));
    const signature = createHmac("sha256", HMAC_KEY)
      .update(defaultParamsSerializer({ query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS }) ?? "")
      .digest("base64");
    const replayed = await post(
      harness,
      JSON.stringify({
        query: ACCESS_TOKEN_MUTATION,
        variables: { ...CREDENTIALS, clientId: "someone-else" },
        extensions: { "hmac-signature": signature },
      }),
      { "content-type": "application/json" },
    );
    assert.equal(replayed.status, 403);
    assert.match(replayed.text, /"code":"ROUTER_ONLY"/);
    assert.equal(harness.fake.totalTokenRequests, upstreamBefore);
    const metrics = await metricsOf(harness);
    assert.ok(refusals(metrics, "signature_missing") >= 1);
    assert.ok(refusals(metrics, "signature_wrong") >= 1);
    assert.deepEqual(leakedSecrets(harness, [HMAC_KEY]), []);
    assert.ok(!metrics.includes(HMAC_KEY));
  });

  test("property: the signed text is byte for byte what Hive's own validation plugin signs", () => {
    const json = fc.jsonValue({ maxDepth: 3 });
    fc.assert(
      fc.property(
        fc.string(),
        fc.option(fc.dictionary(fc.string(), json), { nil: undefined }),
        (query, variables) => {
          assert.equal(signedText(query, variables), defaultParamsSerializer({ query, variables }));
        },
      ),
      { numRuns: 300 },
    );
  });
});
