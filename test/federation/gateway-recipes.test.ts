/**
 * Every recipe under gateways/, as written. The Apollo Gateway recipe runs with the very command
 * docs/federation.md gives; the Hive recipe runs in Hive Gateway's runtime (here with router-only
 * access; supergraph.test.ts and router-only.test.ts run it too). Apollo Router is a binary download
 * the suite cannot run, and no npm package ships its configuration schema: its files are parsed and
 * checked against the Router's documented keys (headers, tls, supergraph.listen) and the subgraph's
 * own settings, and supergraph.yaml is composed as rover would compose it. The docs' copies of the
 * recipes are held identical to the files, and no recipe gives retired advice.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { composeServices } from "@apollo/composition";
import { parse as parseGraphQL } from "graphql";
import { parse } from "yaml";
import { spawnChild } from "../../dev/spawn.js";
import { loadConfig } from "../../src/config/index.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import { ACCESS_TOKEN_MUTATION, CLIENT_ID, CLIENT_SECRET, harnessFor } from "../support/harness.js";
import { REPO_ROOT } from "../support/process.js";

const ROUTER = "gateways/apollo-router";

function read(path: string): string {
  return readFileSync(join(REPO_ROOT, path), "utf8");
}

function filesUnder(directory: string): string[] {
  return readdirSync(join(REPO_ROOT, directory)).flatMap((name) => {
    const path = join(directory, name);
    return statSync(join(REPO_ROOT, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

interface HeaderRule {
  propagate?: { named?: string };
  insert?: { name?: string; value?: string };
}

interface RouterYaml {
  supergraph?: { listen?: string };
  headers?: {
    all?: { request?: HeaderRule[] };
    subgraphs?: Record<string, { request?: HeaderRule[] }>;
  };
  telemetry?: { exporters?: { tracing?: { propagation?: { trace_context?: boolean } } } };
  tls?: unknown;
}

interface SupergraphYaml {
  federation_version?: string;
  subgraphs?: Record<string, { routing_url?: string; schema?: { file?: string } }>;
}

const routerYaml = () => parse(read(`${ROUTER}/router.yaml`)) as RouterYaml;
const supergraphYaml = () => parse(read(`${ROUTER}/supergraph.yaml`)) as SupergraphYaml;

/**
 * The keys the Router's configuration accepts where the recipes write (its JSON schema, as
 * `router config schema` prints it: `additionalProperties: false` at each of these levels).
 */
const ROUTER_KEYS = {
  headerRule: ["propagate", "insert", "remove"],
  propagate: ["named", "matching", "rename", "default"],
  insert: ["name", "value", "from_context", "path"],
  tlsSubgraph: ["certificate_authorities", "client_authentication"],
  clientAuthentication: ["certificate_chain", "key"],
} as const;

function assertOnlyKeys(value: unknown, allowed: readonly string[], where: string): void {
  assert.ok(typeof value === "object" && value !== null, `${where} is a mapping`);
  for (const key of Object.keys(value)) assert.ok(allowed.includes(key), `${where}: unknown key ${key}`);
}

test("router.yaml listens apart from the subgraph's own port and propagates the request id and X-Forwarded-For", () => {
  const config = routerYaml();
  const listen = config.supergraph?.listen ?? "";
  assert.match(listen, /^[\d.:]+:\d+$/);
  const subgraphPort = loadConfig({}).server.port;
  assert.notEqual(
    Number(listen.split(":").at(-1)),
    subgraphPort,
    "the router and the subgraph clash on a port",
  );
  const rules = config.headers?.all?.request ?? [];
  for (const rule of rules) {
    assertOnlyKeys(rule, ROUTER_KEYS.headerRule, "headers.all.request[]");
    if (rule.propagate) assertOnlyKeys(rule.propagate, ROUTER_KEYS.propagate, "propagate");
  }
  const named = rules.map((rule) => rule.propagate?.named);
  assert.ok(named.includes("x-request-id"));
  assert.ok(named.includes("x-forwarded-for"));
  assert.equal(config.telemetry?.exporters?.tracing?.propagation?.trace_context, true);
});

test("router.yaml sends the subgraph's ROUTER_SECRET in the header the subgraph reads, to that subgraph only", () => {
  const config = routerYaml();
  const subgraphs = Object.keys(supergraphYaml().subgraphs ?? {});
  const perSubgraph = config.headers?.subgraphs ?? {};
  assert.deepEqual(
    Object.keys(perSubgraph),
    subgraphs,
    "the header rules name the subgraph supergraph.yaml composes",
  );
  const rules = perSubgraph["aspose-token"]?.request ?? [];
  const insert = rules.find((rule) => rule.insert !== undefined)?.insert;
  assert.ok(insert !== undefined);
  assertOnlyKeys(insert, ROUTER_KEYS.insert, "insert");
  const { header } = loadConfig({ ROUTER_SECRET: "x".repeat(44) }).perimeter.sharedSecret ?? {};
  assert.equal(insert.name, header);
  // The Router's environment expansion, with the subgraph's own variable name.
  assert.equal(insert.value, `\${env.ROUTER_SECRET}`);
});

test("router.tls.yaml gives the aspose-token subgraph a CA and a client certificate, in the Router's keys", () => {
  const block = parse(read(`${ROUTER}/router.tls.yaml`)) as {
    tls?: { subgraph?: { all?: unknown; subgraphs?: Record<string, Record<string, unknown>> } };
  };
  assertOnlyKeys(block, ["tls"], "router.tls.yaml");
  assertOnlyKeys(block.tls, ["subgraph"], "tls");
  const subgraph = block.tls?.subgraph?.subgraphs?.["aspose-token"];
  assertOnlyKeys(subgraph, ROUTER_KEYS.tlsSubgraph, "tls.subgraph.subgraphs.aspose-token");
  assertOnlyKeys(subgraph?.client_authentication, ROUTER_KEYS.clientAuthentication, "client_authentication");
  for (const value of [
    subgraph?.certificate_authorities,
    ...Object.values(subgraph?.client_authentication ?? {}),
  ])
    assert.match(
      String(value),
      /^\$\{file\.\/.+\}$/,
      "the Router reads PEM contents through its file expansion",
    );
  // A block to add: it does not collide with router.yaml's own keys.
  assert.equal(routerYaml().tls, undefined);
});

test("supergraph.yaml composes as rover would: this subgraph alone, its routing URL on the subgraph's port", () => {
  const config = supergraphYaml();
  const { version } = JSON.parse(read("node_modules/@apollo/composition/package.json")) as {
    version: string;
  };
  assert.equal(config.federation_version, `=${version}`);
  const services = Object.entries(config.subgraphs ?? {}).map(([name, subgraph]) => {
    assert.equal(subgraph.schema?.file, "./aspose-token.graphql");
    // The file `npm run -s schema:print` writes there; its output is tested in schema-print.test.ts.
    return {
      name,
      url: subgraph.routing_url,
      typeDefs: parseGraphQL(
        read("schema/service.graphql") + read("schema/token.graphql") + read("schema/federation.graphql"),
      ),
    };
  });
  const composed = composeServices(services);
  assert.equal(composed.errors, undefined, composed.errors?.map((error) => error.message).join("; "));
  assert.match(composed.supergraphSdl ?? "", /url: "http:\/\/localhost:4000\/graphql"/);
  assert.equal(new URL(services[0]?.url ?? "").port, String(loadConfig({}).server.port));
});

test("no recipe gives retired advice: TRUST_PROXY_HOPS is gone, TRUSTED_PROXIES named instead", () => {
  for (const file of filesUnder("gateways")) {
    assert.doesNotMatch(read(file), /TRUST_PROXY_HOPS/, file);
  }
  assert.match(read("gateways/hive/gateway.config.ts"), /TRUSTED_PROXIES/);
  assert.match(read("docs/federation.md"), /TRUSTED_PROXIES/);
  assert.doesNotMatch(read("docs/federation.md"), /TRUST_PROXY_HOPS/);
});

test("every copy of a recipe in docs/federation.md is identical to its file", () => {
  const doc = read("docs/federation.md");
  const blocks = [...doc.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? "");
  const copies = blocks.filter((block) => /^(#|\/\/) gateways\//.test(block));
  const named = (block: string) => /^(?:#|\/\/) (gateways\/[\w./-]+)/.exec(block)?.[1] ?? "";
  // Every YAML recipe is given whole; the TypeScript ones as excerpts that start with their path.
  for (const file of filesUnder(ROUTER)) {
    assert.ok(
      copies.some((block) => named(block) === file && block === read(file)),
      `docs/federation.md has ${file} whole`,
    );
  }
  for (const block of copies) {
    const file = named(block);
    const text = read(file);
    if (file.endsWith(".yaml")) assert.equal(block, text, `${file} as the docs give it`);
    else
      assert.ok(
        text.includes(block.split("\n").slice(1).join("\n")),
        `the excerpt of ${file} is in the file`,
      );
  }
  assert.ok(copies.some((block) => named(block) === "gateways/apollo-gateway/gateway.ts"));
  assert.ok(copies.some((block) => named(block) === "gateways/hive/gateway.config.ts"));
});

test("the Apollo Gateway recipe runs with the command the docs give, and its requests get tokens", async (t) => {
  const secret = "gAtewayRecipeSecret0000000000000000000000=";
  const harness = await harnessFor(t, { env: { ROUTER_SECRET: secret } });
  const directory = await mkdtemp(join(tmpdir(), "apollo-gateway-recipe-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  const sdl = await readAnswer<{ _service: { sdl: string } }>(
    await postOperation(
      harness.url,
      "{ _service { sdl } }",
      {},
      { accept: "application/json", "router-authorization": secret },
    ),
  );
  const composed = composeServices([
    { name: "aspose-token", url: harness.url, typeDefs: parseGraphQL(sdl.data?._service.sdl ?? "") },
  ]);
  assert.ok(composed.supergraphSdl !== undefined);
  const supergraph = join(directory, "supergraph.graphql");
  await writeFile(supergraph, composed.supergraphSdl);

  const command =
    /^SUPERGRAPH_FILE=\S+ ROUTER_SECRET=\S+ npx tsx (gateways\/apollo-gateway\/gateway\.ts)$/m.exec(
      read("docs/federation.md"),
    );
  assert.ok(command?.[1], "docs/federation.md gives the command");
  const gateway = spawnChild({
    command: join(REPO_ROOT, "node_modules/.bin/tsx"),
    args: [command[1]],
    env: { SUPERGRAPH_FILE: supergraph, ROUTER_SECRET: secret, PORT: "0", HOST: "127.0.0.1" },
  });
  t.after(() => gateway.stop());
  const ready = await gateway.waitForLine(
    (line) => line.startsWith("Apollo Gateway ready at "),
    "the ready line",
  );
  const url = ready.slice("Apollo Gateway ready at ".length).trim();
  const answer = await readAnswer<{ accessToken: { tokenType: string } }>(
    await postOperation(
      url,
      ACCESS_TOKEN_MUTATION,
      { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
      {
        accept: "application/json",
        "x-request-id": "apollo-gateway-recipe-1",
      },
    ),
  );
  assert.equal(answer.errors, undefined, answer.text);
  assert.equal(answer.data?.accessToken.tokenType, "Bearer");
  assert.ok(
    harness.logs.some((line) => line.includes('"requestId":"apollo-gateway-recipe-1"')),
    "the gateway forwarded the request id",
  );
});
