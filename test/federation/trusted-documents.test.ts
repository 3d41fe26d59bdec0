/**
 * Trusted documents for direct clients, with the tools a client's build and runtime really use: the
 * manifest is made by Apollo's own generator (`generate-persisted-query-manifest`, the CLI of
 * @apollo/generate-persisted-query-manifest) from the client's operations (direct-client/), and Apollo
 * Client sends them by id through its persisted-queries link, ids from that manifest. With the
 * manifest as TRUSTED_DOCUMENTS_FILE, the listed operations run, by id or by identical text; anything
 * else is refused with a code before it runs, nothing reaching Aspose. Behind router-only access the
 * router's own requests are not held to the list.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import {
  ApolloClient,
  ApolloLink,
  CombinedGraphQLErrors,
  HttpLink,
  InMemoryCache,
  gql,
} from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { generatePersistedQueryIdsFromManifest } from "@apollo/persisted-query-lists";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  leakedSecrets,
  post,
  startHarness,
} from "../support/harness.js";
import { REPO_ROOT } from "../support/process.js";

const run = promisify(execFile);
const CLIENT_APP = join(REPO_ROOT, "test/federation/direct-client");
const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
const ROUTER_SECRET = "tRusted0ocumentsR0uterSecret00000000000000=";

interface Manifest {
  format: string;
  version: number;
  operations: { id: string; name: string; type: string; body: string }[];
}

let directory: string;
let manifestFile: string;
let manifest: Manifest;
let accessToken: string;
let serviceStatus: string;

before(async () => {
  // The client project: its operations and the generator's config, where the build runs the CLI.
  directory = await mkdtemp(join(tmpdir(), "direct-client-"));
  for (const file of [
    "access-token.graphql",
    "service-status.graphql",
    "persisted-query-manifest.config.json",
  ])
    await copyFile(join(CLIENT_APP, file), join(directory, file));
  await run(join(REPO_ROOT, "node_modules/.bin/generate-persisted-query-manifest"), [], { cwd: directory });
  manifestFile = join(directory, "persisted-query-manifest.json");
  manifest = JSON.parse(await readFile(manifestFile, "utf8")) as Manifest;
  accessToken = await readFile(join(CLIENT_APP, "access-token.graphql"), "utf8");
  serviceStatus = await readFile(join(CLIENT_APP, "service-status.graphql"), "utf8");
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
});

function listed(name: string): Manifest["operations"][number] {
  const operation = manifest.operations.find((candidate) => candidate.name === name);
  assert.ok(operation, `${name} is in the manifest`);
  return operation;
}

/** Apollo Client as a direct client configures it: ids from the manifest, no full text ever sent. */
function apolloClient(url: string, sent: object[]): ApolloClient {
  const recorder = new ApolloLink((operation, forward) => {
    sent.push({ extensions: operation.extensions });
    return forward(operation);
  });
  return new ApolloClient({
    cache: new InMemoryCache(),
    link: ApolloLink.from([
      new PersistedQueryLink(generatePersistedQueryIdsFromManifest({ loadManifest: () => manifest })),
      recorder,
      new HttpLink({ uri: url }),
    ]),
  });
}

async function raw(harness: Harness, body: object, headers: Record<string, string> = {}) {
  const reply = await post(harness, JSON.stringify(body), { "content-type": "application/json", ...headers });
  return {
    ...reply,
    json: JSON.parse(reply.text) as { data?: unknown; errors?: { extensions?: { code?: string } }[] },
  };
}

test("Apollo's generator writes a manifest in the format the service reads", () => {
  assert.equal(manifest.format, "apollo-persisted-query-manifest");
  assert.equal(manifest.version, 1);
  assert.deepEqual(manifest.operations.map((operation) => operation.name).sort(), [
    "AccessToken",
    "ServiceStatus",
  ]);
});

describe("with the manifest as TRUSTED_DOCUMENTS_FILE", () => {
  let harness: Harness;

  before(async () => {
    harness = await startHarness({ env: { TRUSTED_DOCUMENTS_FILE: manifestFile } });
  });

  after(async () => {
    await harness.close();
  });

  test("Apollo Client's persisted-queries link runs the listed operations by id", async () => {
    const sent: object[] = [];
    const client = apolloClient(harness.url, sent);
    const token = await client.mutate<{ accessToken: { accessToken: string; expiresIn: number } }>({
      mutation: gql(accessToken),
      variables: CREDENTIALS,
    });
    assert.equal(token.error, undefined);
    assert.ok((token.data?.accessToken.expiresIn ?? 0) > 0);
    const status = await client.query<{ asposeTokenService: { ready: boolean } }>({
      query: gql(serviceStatus),
      fetchPolicy: "network-only",
    });
    assert.equal(status.data?.asposeTokenService.ready, true);
    // By id alone: the link sent the manifest's ids, never the text.
    assert.deepEqual(
      sent.map(
        (request) =>
          (request as { extensions: { persistedQuery?: { sha256Hash?: string } } }).extensions.persistedQuery
            ?.sha256Hash,
      ),
      [listed("AccessToken").id, listed("ServiceStatus").id],
    );
  });

  test("a listed operation sent as its identical text runs; the id in `documentId` (Hive's field) runs too", async () => {
    const byText = await raw(harness, { query: listed("ServiceStatus").body });
    assert.equal(byText.status, 200);
    assert.equal(byText.json.errors, undefined, byText.text);
    const byDocumentId = await raw(harness, { documentId: listed("ServiceStatus").id });
    assert.equal(byDocumentId.json.errors, undefined, byDocumentId.text);
    const overGet = await fetch(
      `${harness.url}?${new URLSearchParams({
        extensions: JSON.stringify({
          persistedQuery: { version: 1, sha256Hash: listed("ServiceStatus").id },
        }),
      })}`,
      { headers: { "apollo-require-preflight": "true" } },
    );
    assert.equal(overGet.status, 200);
    assert.match(await overGet.text(), /"asposeTokenService"/);
  });

  test("an unlisted operation, an unknown id, or a listed id with another text is refused before it runs", async () => {
    const upstream = harness.fake.totalTokenRequests;
    const unlisted = await raw(harness, {
      query:
        "mutation Mine($clientId: String!, $clientSecret: String!) { accessToken(clientId: $clientId, clientSecret: $clientSecret) { accessToken } }",
      variables: CREDENTIALS,
    });
    assert.equal(unlisted.status, 200);
    assert.equal(unlisted.json.errors?.[0]?.extensions?.code, "QUERY_NOT_IN_SAFELIST", unlisted.text);
    assert.equal(unlisted.json.data, undefined);
    // The listed text with a single space changed is another document.
    const respaced = await raw(harness, { query: listed("ServiceStatus").body.replace(" ", "  ") });
    assert.equal(respaced.json.errors?.[0]?.extensions?.code, "QUERY_NOT_IN_SAFELIST");
    const unknownId = await raw(harness, {
      extensions: { persistedQuery: { version: 1, sha256Hash: "0".repeat(64) } },
      variables: CREDENTIALS,
    });
    assert.equal(unknownId.json.errors?.[0]?.extensions?.code, "PERSISTED_QUERY_NOT_IN_LIST", unknownId.text);
    const swapped = await raw(harness, {
      query: "{ _service { sdl } }",
      extensions: { persistedQuery: { version: 1, sha256Hash: listed("ServiceStatus").id } },
    });
    assert.equal(swapped.json.errors?.[0]?.extensions?.code, "QUERY_NOT_IN_SAFELIST");
    // The spec's status for a refused document follows Accept.
    const strict = await raw(
      harness,
      { query: "{ _service { sdl } }" },
      { accept: "application/graphql-response+json" },
    );
    assert.equal(strict.status, 400);
    assert.match(strict.headers.get("content-type") ?? "", /application\/graphql-response\+json/);
    assert.equal(harness.fake.totalTokenRequests, upstream, "nothing reached Aspose");
    const metrics = await (await fetch(`${harness.origin}/metrics`)).text();
    assert.match(metrics, /^perimeter_refusals_total\{reason="document_not_listed"\} 5$/m);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  });

  test("Apollo Client asking for an operation the manifest does not list gets the code, not a retry with its text", async () => {
    const sent: { query?: unknown; extensions: unknown }[] = [];
    const stray = new ApolloClient({
      cache: new InMemoryCache(),
      link: ApolloLink.from([
        new PersistedQueryLink({ generateHash: () => "f".repeat(64) }),
        new ApolloLink((operation, forward) => {
          sent.push({ extensions: operation.extensions });
          return forward(operation);
        }),
        new HttpLink({ uri: harness.url }),
      ]),
    });
    const answer = await stray.query({
      query: gql("query Stray { asposeTokenService { version } }"),
      errorPolicy: "all",
    });
    assert.ok(CombinedGraphQLErrors.is(answer.error), String(answer.error));
    assert.equal(answer.error.errors[0]?.extensions?.code, "PERSISTED_QUERY_NOT_IN_LIST");
    // PERSISTED_QUERY_NOT_FOUND would have made the link send the text: one request, by id only.
    assert.equal(sent.length, 1);
  });
});

test("a Hive / GraphQL Code Generator manifest (a JSON object of id to document) is read too", async (t) => {
  const flat = join(directory, "persisted-documents.json");
  await writeFile(flat, JSON.stringify({ status1: listed("ServiceStatus").body }));
  const harness = await startHarness({ env: { TRUSTED_DOCUMENTS_FILE: flat } });
  t.after(() => harness.close());
  const byId = await raw(harness, { documentId: "status1" });
  assert.equal(byId.json.errors, undefined, byId.text);
  const other = await raw(harness, { query: listed("AccessToken").body, variables: CREDENTIALS });
  assert.equal(other.json.errors?.[0]?.extensions?.code, "QUERY_NOT_IN_SAFELIST");
});

test("behind router-only access, the router runs any operation and a direct client only the listed ones", async (t) => {
  const harness = await startHarness({ env: { TRUSTED_DOCUMENTS_FILE: manifestFile, ROUTER_SECRET } });
  t.after(() => harness.close());
  const routerHeader = { "router-authorization": ROUTER_SECRET };
  const router = await raw(harness, { query: "{ _service { sdl } }" }, routerHeader);
  assert.equal(router.json.errors, undefined, router.text);
  const directListed = await raw(harness, { documentId: listed("ServiceStatus").id });
  assert.equal(directListed.json.errors, undefined, directListed.text);
  const directOther = await raw(harness, { query: "{ _service { sdl } }" });
  assert.equal(directOther.json.errors?.[0]?.extensions?.code, "QUERY_NOT_IN_SAFELIST");
});
