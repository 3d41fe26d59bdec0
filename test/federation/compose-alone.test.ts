/**
 * The first thing an integrator does with a subgraph is compose it on its own. This subgraph's SDL,
 * read from `_service { sdl }` as rover reads it, composes alone with Apollo's composition
 * (`@apollo/composition`, what rover and GraphOS run) and with Hive's (`@theguild/federation-composition`,
 * what Hive Console runs); the supergraph it makes is served by Apollo Gateway and Hive Gateway, and its
 * query root answers through both.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { composeServices as composeWithApollo } from "@apollo/composition";
import { composeServices as composeWithHive } from "@theguild/federation-composition";
import { parse } from "graphql";
import { type RunningGateway, startApolloGateway, startHiveGateway } from "../support/gateways.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  execute,
  type Harness,
  request,
  startHarness,
} from "../support/harness.js";
import { REPO_ROOT } from "../support/process.js";

interface ServiceStatus {
  asposeTokenService: { version: string; ready: boolean; upstream: string };
}

const STATUS_QUERY = "query Status { asposeTokenService { version ready upstream } }";
const { version } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

let harness: Harness;
let sdl: string;

before(async () => {
  harness = await startHarness({ env: { ASPOSE_BREAKER_THRESHOLD: "1" } });
  const served = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  sdl = served.data?._service.sdl ?? "";
});

after(async () => {
  await harness.close();
});

function alone() {
  return [{ name: "aspose-token", typeDefs: parse(sdl), url: harness.url }];
}

test("Apollo's composition composes this subgraph alone", () => {
  const composed = composeWithApollo(alone());
  assert.equal(composed.errors, undefined, composed.errors?.map((error) => error.message).join("; "));
  assert.match(composed.supergraphSdl ?? "", /asposeTokenService: AsposeTokenService!/);
  assert.match(composed.supergraphSdl ?? "", /accessToken\(/);
});

test("Hive's composition composes this subgraph alone", () => {
  const composed = composeWithHive(alone());
  assert.equal(composed.errors, undefined, composed.errors?.map((error) => error.message).join("; "));
  assert.match(composed.publicSdl ?? "", /asposeTokenService: AsposeTokenService!/);
  assert.match(composed.publicSdl ?? "", /accessToken\(/);
});

for (const [name, start] of [
  ["Apollo Gateway", startApolloGateway],
  ["Hive Gateway", startHiveGateway],
] as const) {
  test(`the supergraph of this subgraph alone serves the query root and the mutation through ${name}`, async (t) => {
    const composed = composeWithApollo(alone());
    assert.ok(composed.supergraphSdl !== undefined);
    const gateway: RunningGateway = await start(composed.supergraphSdl);
    t.after(() => gateway.stop());
    const status = await readAnswer<ServiceStatus>(
      await postOperation(gateway.url, STATUS_QUERY, {}, { accept: "application/json" }),
    );
    assert.equal(status.errors, undefined, status.text);
    assert.equal(status.data?.asposeTokenService.version, version);
    const token = await readAnswer<{ accessToken: { tokenType: string } }>(
      await postOperation(
        gateway.url,
        ACCESS_TOKEN_MUTATION,
        { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
        { accept: "application/json" },
      ),
    );
    assert.equal(token.errors, undefined, token.text);
    assert.equal(token.data?.accessToken.tokenType, "Bearer");
  });
}

// Last: it leaves the circuit open.
test("asposeTokenService answers the version, readiness and the circuit as /readyz sees them", async () => {
  const closed = await execute<ServiceStatus>(harness, STATUS_QUERY);
  assert.equal(closed.errors, undefined);
  assert.deepEqual(closed.data?.asposeTokenService, { version, ready: true, upstream: "CLOSED" });

  // One upstream failure opens the circuit (threshold 1): the field follows what /readyz says.
  harness.fake.setFault({ kind: "status", status: 503 });
  // Credentials with no cached token, so the call must reach Aspose.
  const failed = await execute(harness, ACCESS_TOKEN_MUTATION, {
    clientId: "circuit-probe-client",
    clientSecret: CLIENT_SECRET,
  });
  assert.equal(failed.errors?.[0]?.extensions?.code, "UPSTREAM_UNAVAILABLE");
  harness.fake.setFault(undefined);
  const readiness = await request(harness, "/readyz");
  assert.equal((JSON.parse(readiness.text) as { upstream: string }).upstream, "open");
  const open = await execute<ServiceStatus>(harness, STATUS_QUERY);
  assert.equal(open.data?.asposeTokenService.upstream, "OPEN");
});
