import assert from "node:assert/strict";
import { verify } from "node:crypto";
import { test } from "node:test";
import { decodeJwtClaims } from "../../dev/fake-aspose.js";
import {
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  execute,
  harnessFor,
  leakedSecrets,
  requestToken,
  tokensInLogs,
} from "../support/harness.js";

/** A secret as it would appear raw or JSON-escaped in a log line or response body. */
function spellings(secret: string): string[] {
  return [secret, JSON.stringify(secret).slice(1, -1)];
}

function tokenOf(result: { data: { accessToken: AccessTokenFields } | null | undefined }): AccessTokenFields {
  const token = result.data?.accessToken;
  assert.ok(token !== undefined, "expected a token in data");
  return token;
}

for (const lifetime of [3600, 86_400, 604_800]) {
  test(`a ${lifetime} s token comes back exactly as Aspose issued it, with its real lifetime`, async (t) => {
    const harness = await harnessFor(t);
    harness.fake.setLifetime(lifetime);
    const result = await requestToken(harness);
    assert.equal(result.errors, undefined);
    const token = tokenOf(result);

    const [header = "", payload = "", signature = ""] = token.accessToken.split(".");
    assert.ok(
      verify(
        "sha256",
        Buffer.from(`${header}.${payload}`),
        harness.fake.publicKey,
        Buffer.from(signature, "base64url"),
      ),
      "the token must be byte-for-byte the one the fake signed",
    );
    const claims = decodeJwtClaims(token.accessToken);
    assert.equal(claims.client_id, CLIENT_ID);
    assert.equal(Number(claims.exp) - Number(claims.nbf), lifetime);

    assert.equal(token.tokenType, "Bearer");
    assert.equal(token.fromCache, false);
    assert.equal(token.expiresIn, lifetime);
    const issuedAt = Date.parse(token.issuedAt);
    const expiresAt = Date.parse(token.expiresAt);
    assert.equal(issuedAt, harness.clock.now());
    assert.equal(expiresAt, issuedAt + lifetime * 1000);
    assert.equal(expiresAt, Number(claims.exp) * 1000);
    assert.deepEqual(token.scopes, claims.scope);
    assert.deepEqual(token.scopes, ["api.billing", "api.identity", "api.products", "api.storage"]);
    assert.equal(token.defaultStorage, claims.client_default_storage);
    assert.match(
      token.defaultStorage ?? "",
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/,
    );

    assert.equal(harness.fake.totalTokenRequests, 1);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    assert.deepEqual(tokensInLogs(harness, [token.accessToken, payload]), []);
  });
}

for (const { path, env } of [
  { path: "/v4.0/cells/connect/token", env: {} },
  { path: "/v3.0/cells/connect/token", env: { ASPOSE_TOKEN_PATH: "/v3.0/cells/connect/token" } },
  { path: "/connect/token", env: { ASPOSE_TOKEN_PATH: "/connect/token" } },
]) {
  test(`token path ${path}: a form POST with the secret in the body only`, async (t) => {
    const harness = await harnessFor(t, { env });
    const result = await requestToken(harness);
    assert.equal(result.errors, undefined);
    const token = tokenOf(result);

    assert.equal(harness.fake.requests.length, 1);
    const [request] = harness.fake.requests;
    assert.ok(request !== undefined);
    assert.equal(request.method, "POST");
    assert.equal(request.path, path);
    assert.equal(request.query, "", "nothing in the query string");
    assert.match(request.contentType ?? "", /^application\/x-www-form-urlencoded(;|$)/);
    assert.equal(request.headers.accept, "application/json");
    assert.match(String(request.headers["user-agent"]), /aspose-token-subgraph/);
    assert.equal(request.form?.grant_type, "client_credentials");
    assert.equal(request.form?.client_id, CLIENT_ID);
    assert.equal(request.form?.client_secret, CLIENT_SECRET);
    const url = `${request.path}?${request.query}`;
    assert.ok(!url.includes(CLIENT_SECRET) && !url.includes(encodeURIComponent(CLIENT_SECRET)));

    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    assert.deepEqual(tokensInLogs(harness, [token.accessToken]), []);
  });
}

test("secrets with form-special, quote, space and non-ASCII characters arrive upstream exactly", async (t) => {
  const harness = await harnessFor(t);
  const clients = [
    ["c1a7e0d2-0000-4000-8000-000000000001", "a+b/c=d&e%20f%zz+=="],
    ["c1a7e0d2-0000-4000-8000-000000000002", `  spaced "double" 'single' \`tick\` `],
    ["c1a7e0d2-0000-4000-8000-000000000003", "ünïcødé 秘密 🔑 &client_secret=x"],
    ["c1a7e0d2-0000-4000-8000-000000000004", "%2B%26%3D;#?\\<>[]{}|^~"],
  ] as const;
  const tokens: string[] = [];
  for (const [clientId, clientSecret] of clients) {
    harness.fake.addClient(clientId, clientSecret);
    const result = await requestToken(harness, { clientId, clientSecret });
    assert.equal(result.errors, undefined, JSON.stringify(clientSecret));
    const token = tokenOf(result);
    assert.equal(decodeJwtClaims(token.accessToken).client_id, clientId);
    tokens.push(token.accessToken);
  }
  assert.deepEqual(
    harness.fake.requests.map((request) => [request.form?.client_id, request.form?.client_secret]),
    clients.map(([clientId, clientSecret]) => [clientId, clientSecret]),
  );
  for (const request of harness.fake.requests) {
    assert.equal(request.query, "");
    assert.deepEqual(Object.keys(request.form ?? {}).sort(), ["client_id", "client_secret", "grant_type"]);
  }
  assert.deepEqual(
    leakedSecrets(
      harness,
      clients.flatMap(([, secret]) => spellings(secret.trim())),
    ),
    [],
  );
  assert.deepEqual(tokensInLogs(harness, tokens), []);
});

const TWO_ALIASES = /* GraphQL */ `
  mutation Two($idA: String!, $secretA: String!, $idB: String!, $secretB: String!) {
    a: accessToken(clientId: $idA, clientSecret: $secretA) { accessToken fromCache expiresIn }
    b: accessToken(clientId: $idB, clientSecret: $secretB) { accessToken fromCache expiresIn }
  }
`;

type TwoTokens = {
  a: Pick<AccessTokenFields, "accessToken" | "fromCache" | "expiresIn">;
  b: Pick<AccessTokenFields, "accessToken" | "fromCache" | "expiresIn">;
};

test("two aliases with the same credentials share one upstream call and one token", async (t) => {
  // With the cache off, only the per-operation sharing can keep this to one call.
  const harness = await harnessFor(t, { env: { TOKEN_CACHE: "off" } });
  const result = await execute<TwoTokens>(harness, TWO_ALIASES, {
    idA: CLIENT_ID,
    secretA: CLIENT_SECRET,
    idB: CLIENT_ID,
    secretB: CLIENT_SECRET,
  });
  assert.equal(result.errors, undefined);
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.ok(result.data !== null && result.data !== undefined);
  assert.equal(result.data.a.accessToken, result.data.b.accessToken);
  assert.equal(result.data.a.fromCache, false);
  assert.equal(result.data.b.fromCache, false);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  assert.deepEqual(tokensInLogs(harness, [result.data.a.accessToken]), []);
});

test("two aliases with different credentials make two upstream calls and get their own tokens", async (t) => {
  const harness = await harnessFor(t);
  const otherId = "5d0e3b7a-9f21-4c6e-8a44-1b2c3d4e5f60";
  const otherSecret = "e3a1f9c07b5d4e2a8c6f0b1d2e3f4a5b";
  harness.fake.addClient(otherId, otherSecret);
  const result = await execute<TwoTokens>(harness, TWO_ALIASES, {
    idA: CLIENT_ID,
    secretA: CLIENT_SECRET,
    idB: otherId,
    secretB: otherSecret,
  });
  assert.equal(result.errors, undefined);
  assert.ok(result.data !== null && result.data !== undefined);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assert.equal(harness.fake.countFor(CLIENT_ID), 1);
  assert.equal(harness.fake.countFor(otherId), 1);
  assert.equal(decodeJwtClaims(result.data.a.accessToken).client_id, CLIENT_ID);
  assert.equal(decodeJwtClaims(result.data.b.accessToken).client_id, otherId);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, otherSecret]), []);
  assert.deepEqual(tokensInLogs(harness, [result.data.a.accessToken, result.data.b.accessToken]), []);
});

test("_service { sdl } publishes the accessToken mutation and the Federation 2 link", async (t) => {
  const harness = await harnessFor(t);
  const result = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  assert.equal(result.errors, undefined);
  const sdl = result.data?._service.sdl ?? "";
  assert.match(sdl, /@link\(\s*url:\s*"https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
  assert.match(sdl, /type Mutation\s*\{[\s\S]*accessToken\(/);
  for (const argument of [
    "clientId: String!",
    "clientSecret: String!",
    "minValidity: Int",
    "forceRefresh: Boolean",
  ]) {
    assert.ok(sdl.includes(argument), argument);
  }
  assert.match(sdl, /\): AccessToken!/);
  assert.equal(harness.fake.requests.length, 0);
});

test("every AccessToken field is described in introspection", async (t) => {
  const harness = await harnessFor(t);
  const result = await execute<{
    __type: { description: string | null; fields: { name: string; description: string | null }[] } | null;
  }>(harness, `query { __type(name: "AccessToken") { description fields { name description } } }`);
  assert.equal(result.errors, undefined);
  const type = result.data?.__type;
  assert.ok(type !== null && type !== undefined);
  assert.ok((type.description ?? "").trim().length > 0);
  assert.deepEqual(type.fields.map((field) => field.name).sort(), [
    "accessToken",
    "defaultStorage",
    "expiresAt",
    "expiresIn",
    "fromCache",
    "issuedAt",
    "scopes",
    "stale",
    "tokenType",
  ]);
  for (const field of type.fields) {
    assert.ok((field.description ?? "").trim().length > 10, `${field.name} has no description`);
  }
});

const REFUSED_INPUTS: { name: string; variables: Record<string, unknown>; secret?: string }[] = [
  { name: "blank clientId", variables: { clientId: "" } },
  { name: "whitespace-only clientSecret", variables: { clientSecret: " \t  " } },
  { name: "257-character clientSecret", variables: { clientSecret: `s3cr3t-${"x".repeat(250)}` } },
  { name: "NUL in clientSecret", variables: { clientSecret: "nul-secret-7f3a\u0000tail-91c2" } },
  { name: "newline in clientSecret", variables: { clientSecret: "newline-secret-2b8e\nX-Forged: 1" } },
  { name: "U+0085 in clientSecret", variables: { clientSecret: "nel-secret-4d1f\u0085tail-6a0b" } },
  { name: "lone surrogate in clientSecret", variables: { clientSecret: "surrogate-secret-8c3d\ud800tail" } },
  { name: "minValidity -1", variables: { minValidity: -1 } },
  { name: "minValidity 2592001", variables: { minValidity: 2_592_001 } },
];

for (const { name, variables } of REFUSED_INPUTS) {
  test(`${name} is BAD_USER_INPUT and nothing is sent upstream`, async (t) => {
    const harness = await harnessFor(t);
    const result = await requestToken(harness, variables);
    assert.equal(result.data?.accessToken ?? null, null);
    assert.equal(result.errors?.length, 1);
    const [error] = result.errors ?? [];
    assert.equal(error?.extensions?.code, "BAD_USER_INPUT");
    const argument = Object.keys(variables)[0] ?? "";
    assert.ok(error?.message.includes(argument), `the message names ${argument}: ${error?.message}`);
    assert.equal(harness.fake.requests.length, 0);
    const secret = typeof variables.clientSecret === "string" ? variables.clientSecret : CLIENT_SECRET;
    const leaks = [...spellings(CLIENT_SECRET)];
    if (secret.trim().length > 8) leaks.push(...spellings(secret));
    assert.deepEqual(leakedSecrets(harness, leaks), []);
  });
}

test("a clientSecret variable of the wrong type gets a coded error that does not echo the value", async (t) => {
  const harness = await harnessFor(t);
  const result = await execute(
    harness,
    /* GraphQL */ `
    mutation ($clientId: String!, $clientSecret: String!) {
      accessToken(clientId: $clientId, clientSecret: $clientSecret) { accessToken }
    }
  `,
    { clientId: CLIENT_ID, clientSecret: 918_273_645 },
  );
  assert.equal(result.data?.accessToken ?? null, null);
  const [error] = result.errors ?? [];
  assert.equal(error?.extensions?.code, "BAD_USER_INPUT");
  assert.ok(error?.message.includes("$clientSecret"));
  assert.ok(!error?.message.includes("918273645"), error?.message);
  assert.equal(harness.fake.requests.length, 0);
  assert.deepEqual(leakedSecrets(harness, ["918273645", CLIENT_SECRET]), []);
});
