/**
 * Hostile input against the real service over real HTTP: random documents, variables, credentials and
 * raw bodies (fast-check, bounded runs), plus the classic malformed requests. Whatever arrives, every
 * answer is a 4xx or a 200 with coded GraphQL errors, the process never crashes or leaks a rejection,
 * no secret reaches an answer or a log line, and the upstream sees no more than the limits allow.
 */
import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, test } from "node:test";
import fc from "fast-check";
import type { Reply } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  answeredTokens,
  assertKeysRedacted,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  post,
  request,
  startHarness,
} from "../support/harness.js";

// Anything that escapes a handler is recorded here instead of crashing the run, then asserted empty.
const incidents: unknown[] = [];
process.on("unhandledRejection", (reason) => incidents.push(reason));
process.on("uncaughtException", (error) => incidents.push(error));

const RUNS = 150;
const ADDRESS_THRESHOLD = 20;
const CREDENTIAL_MAX_LENGTH = 256;

/** Every secret-like value sent: none may ever come back or reach a log line. */
const secrets: string[] = [];
let sequence = 0;

/** A fresh, recognisable secret; a leak of any part of a random secret would start with it. */
function marker(): string {
  sequence += 1;
  const value = `sekret-${sequence}-zQ`;
  secrets.push(value);
  return value;
}

async function postJson(
  harness: Harness,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  return post(harness, JSON.stringify(body), { "content-type": "application/json", ...headers });
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message?: unknown; extensions?: { code?: unknown } }[];
}

/**
 * The contract for any answer from /graphql: a 4xx, or a 200 carrying data or coded errors; never a
 * 5xx, never an internal error, never internals in the text.
 */
function assertWellBehaved(reply: Reply, what: string): GraphQLBody {
  const { status, text } = reply;
  assert.ok(status < 500, `${what}: HTTP ${status} ${text.slice(0, 300)}`);
  assert.ok(status === 200 || status === 204 || (status >= 400 && status < 500), `${what}: HTTP ${status}`);
  assertMasked(text, what);
  // Node's own refusals (431, 400 for unparseable HTTP) and HEAD/OPTIONS answers carry no body.
  if (text === "") {
    assert.ok(status !== 200, `${what}: an empty 200`);
    return {};
  }
  let body: GraphQLBody;
  try {
    body = JSON.parse(text) as GraphQLBody;
  } catch {
    assert.fail(`${what}: answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (status !== 200) assert.ok((body.errors?.length ?? 0) > 0, `${what}: a ${status} without errors`);
  for (const error of body.errors ?? []) {
    const code = error.extensions?.code;
    assert.equal(typeof code, "string", `${what}: uncoded error ${JSON.stringify(error)}`);
    assert.notEqual(code, "INTERNAL_SERVER_ERROR", `${what}: ${text.slice(0, 300)}`);
    assert.equal(typeof error.message, "string");
  }
  if (status === 200 && body.errors === undefined) assert.ok(body.data !== undefined, `${what}: no data`);
  return body;
}

const INTERNALS = ["stack", "node_modules", "node:internal", "/work/", ".ts:", "file://", "ECONN"];
// A stack frame (`at fn (/a/b.js:1:2)`, `at /a/b.js`) or an absolute file path. The 404 answer's
// "served at /graphql." is a route, not a file, and is allowed.
const FRAME_OR_PATH = /\bat (?:[\w.<>]+ \()?\/[^\s"]*\/|\/[\w.-]+\/[\w./-]+\.(?:[cm]?[jt]s)\b/;

/** Nothing a client sees may carry stacks, file paths or upstream details. */
function assertMasked(text: string, what: string): void {
  for (const needle of INTERNALS) {
    assert.ok(
      !text.includes(needle),
      `${what}: answer contains ${JSON.stringify(needle)}: ${text.slice(0, 300)}`,
    );
  }
  assert.doesNotMatch(text, FRAME_OR_PATH, `${what}: answer shows a stack frame or path`);
  // The schema's own documentation names `invalid_client` (a random document may ask for the SDL):
  // only the errors must never carry the upstream's words.
  assert.ok(!errorsOf(text).includes("invalid_client"), `${what}: upstream body echoed`);
}

/** The errors part of an answer as text (the whole text when it is not JSON). */
function errorsOf(text: string): string {
  try {
    return JSON.stringify((JSON.parse(text) as GraphQLBody).errors ?? []);
  } catch {
    return text;
  }
}

function codesOf(body: GraphQLBody): unknown[] {
  return (body.errors ?? []).map((error) => error.extensions?.code);
}

/** The service must still answer its health check after each batch. */
async function assertAlive(harness: Harness): Promise<void> {
  const reply = await request(harness, "/healthz");
  assert.equal(reply.status, 200);
  assert.deepEqual(JSON.parse(reply.text), { status: "ok" });
  assert.deepEqual(incidents, []);
}

const SENSITIVE_KEYS = new Set([
  "clientSecret",
  "client_secret",
  "variables",
  "authorization",
  "cookie",
  "accessToken",
  "access_token",
]);

/** Across a harness's whole life: no secret, token or credential header in any log line or answer. */
function assertNothingLeaked(harness: Harness, extra: readonly string[]): void {
  const needles = [...secrets, ...extra, ...answeredTokens(harness)].filter((needle) => needle.length > 0);
  for (const line of harness.logs) {
    for (const needle of needles) assert.ok(!line.includes(needle), `log line leaks ${needle}: ${line}`);
    assertKeysRedacted(line, SENSITIVE_KEYS);
  }
  for (const text of harness.responses) {
    for (const needle of [...secrets, ...extra]) {
      assert.ok(!text.includes(needle), `answer leaks ${needle}: ${text.slice(0, 300)}`);
      // An escaped copy in JSON would be just as bad.
      assert.ok(!text.includes(JSON.stringify(needle).slice(1, -1)));
    }
  }
}

// Characters that have broken parsers, logs and terminals: NUL and other controls, C1 controls,
// bidi overrides, a BOM, lone surrogates, emoji and ZWJ sequences, and the form-encoding specials.
const NASTY = [
  "\u0000",
  "\u0007",
  "\n",
  "\r\n",
  "\t",
  "\u001b[31m",
  "\u007f",
  "\u0085",
  "\u009f",
  "\u202e",
  "\u200f",
  "\u2028",
  "\ufeff",
  "\ud800",
  "\udfff",
  "\ud83d",
  "😀",
  "👩‍👩‍👧",
  "שלום",
  "مرحبا",
  "%00",
  "%",
  "+",
  "&",
  "=",
  "?",
  "#",
  '"',
  "'",
  "\\",
  "`",
  "<script>",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template placeholder as plain text is the point.
  "${x}",
  "{",
  "}",
  " ",
  "__proto__",
];

const nastyUnit = fc.oneof(
  { weight: 3, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((code) => String.fromCharCode(code)) },
);

/** Random text, short and long (around the 256-character limit), full of nasty characters. */
const nastyString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: nastyUnit, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: nastyUnit, minLength: 240, maxLength: 320 }) },
);

const TOKEN_FIELD = "accessToken(clientId: $id, clientSecret: $secret)";

// Fragments of GraphQL that often combine into valid, invalid and borderline operations.
const DOCUMENT_PIECES = [
  "mutation",
  "query",
  "subscription",
  "($id: String!, $secret: String!)",
  "($secret: Int)",
  "($secret: [String!])",
  "{",
  "}",
  "accessToken(clientId: $id, clientSecret: $secret)",
  'accessToken(clientId: "literal", clientSecret: $secret)',
  "accessToken(clientSecret: $secret, clientSecret: $secret)",
  "accessToken",
  "(",
  ")",
  "{ tokenType }",
  "{ accessToken expiresIn expiresAt fromCache scopes defaultStorage }",
  "a:",
  "b:",
  "...F",
  "... on Mutation",
  "...",
  "fragment F on Mutation",
  "fragment F on Query",
  "@include(if: true)",
  "@skip(if: $secret)",
  "@deprecated",
  "__typename",
  "_service { sdl }",
  "__schema { types { name } }",
  "_entities(representations: [])",
  "$secret",
  "String!",
  ":",
  ",",
  "[",
  "]",
  '"str"',
  '"""block"""',
  "#comment\n",
  "1",
  "-1.5e3",
  "null",
  "true",
];

/** `n` picks of `values`, with `n` drawn uniformly enough to reach past the limits (10) often. */
function picks(values: readonly string[], max: number, min = 0): fc.Arbitrary<string[]> {
  return fc
    .integer({ min, max })
    .chain((n) => fc.array(fc.constantFrom(...values), { minLength: n, maxLength: n }));
}

// Well-formed operations of random depth, directives and aliases, around the configured limits.
const shapedDocumentArb = fc
  .tuple(
    fc.constantFrom("query", "mutation", "subscription", ""),
    picks(["a", "_service", "__schema", "... on Query", "... on Mutation", "...", "x: a", TOKEN_FIELD], 14),
    picks(["@include(if: true)", "@skip(if: false)", "@include(if: $flag)", "@unknown"], 14),
    picks(
      ["__typename", "sdl", "tokenType", "a: __typename", "b: sdl", "c: tokenType", "d: _service { sdl }"],
      14,
      1,
    ),
  )
  .map(([kind, path, directives, leaves]) => {
    let selection = `{ ${leaves.map((leaf, i) => (i === 0 ? `${leaf} ${directives.join(" ")}` : leaf)).join(" ")} }`;
    for (const step of [...path].reverse()) selection = `{ ${step} ${selection} }`;
    return kind === "" ? selection : `${kind} ($id: String!, $secret: String!, $flag: Boolean) ${selection}`;
  });

const documentArb = fc.oneof(
  shapedDocumentArb,
  fc.array(fc.constantFrom(...DOCUMENT_PIECES), { maxLength: 40 }).map((pieces) => pieces.join(" ")),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: nastyUnit, maxLength: 100 }),
);

describe("hostile input", () => {
  let harness: Harness;
  const authorizationValues: string[] = [];

  before(async () => {
    harness = await startHarness();
  });

  after(async () => {
    try {
      assert.deepEqual(incidents, []);
      assertNothingLeaked(harness, authorizationValues);
      // One client address, a frozen clock and no success: the address lockout caps the upstream.
      assert.ok(
        harness.fake.totalTokenRequests <= ADDRESS_THRESHOLD,
        `${harness.fake.totalTokenRequests} upstream calls`,
      );
    } finally {
      await harness.close();
    }
  });

  test("property: random documents as `query`", async () => {
    await fc.assert(
      fc.asyncProperty(documentArb, fc.boolean(), async (query, asOperationName) => {
        const variables = { id: CLIENT_ID, secret: marker() };
        const body = asOperationName
          ? { query, variables, operationName: query.slice(0, 20) }
          : { query, variables };
        assertWellBehaved(await postJson(harness, body), `query ${JSON.stringify(query)}`);
      }),
      { numRuns: RUNS },
    );
    await assertAlive(harness);
  });

  test("property: random JSON values as `variables`, and as the whole body", async () => {
    const secretish = fc.oneof(
      fc.constant(null).map(() => marker()),
      fc.jsonValue({ maxDepth: 3 }).map((value) => [marker(), value]),
      fc.jsonValue({ maxDepth: 3 }).map((value) => ({ nested: marker(), value })),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const variablesArb = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.record(
        {
          clientId: fc.oneof(fc.constant(CLIENT_ID), fc.jsonValue({ maxDepth: 2 })),
          clientSecret: secretish,
          minValidity: fc.jsonValue({ maxDepth: 2 }),
          forceRefresh: fc.jsonValue({ maxDepth: 2 }),
          __proto__: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(variablesArb, async (variables) => {
        const reply = await postJson(harness, { query: ACCESS_TOKEN_MUTATION, variables });
        assertWellBehaved(reply, `variables ${JSON.stringify(variables)}`);
      }),
      { numRuns: RUNS },
    );
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (body) => {
        assertWellBehaved(await postJson(harness, body), `body ${JSON.stringify(body)}`);
      }),
      { numRuns: RUNS },
    );
    await assertAlive(harness);
  });

  test("property: random bytes with random content types", async () => {
    const contentTypes = fc.constantFrom(
      undefined,
      "application/json",
      "application/json; charset=utf-8",
      "application/graphql-response+json",
      "application/graphql",
      "text/plain",
      "multipart/form-data; boundary=----x",
      "application/x-www-form-urlencoded",
      "application/xml",
      "",
      "application/json; charset=latin1",
    );
    const bodies = fc.oneof(
      fc.uint8Array({ maxLength: 300 }),
      fc.string({ unit: nastyUnit, maxLength: 200 }).map((text) => new TextEncoder().encode(text)),
      fc
        .string({ unit: nastyUnit, maxLength: 60 })
        .map((text) =>
          new TextEncoder().encode(`{"query":"${text}","variables":{"clientSecret":"${text}"}}`),
        ),
    );
    await fc.assert(
      fc.asyncProperty(bodies, contentTypes, fc.boolean(), async (bytes, contentType, preflight) => {
        const headers: Record<string, string> = {};
        if (contentType !== undefined) headers["content-type"] = contentType;
        if (preflight) headers["apollo-require-preflight"] = "true";
        const reply = await post(harness, bytes, headers);
        assertWellBehaved(
          reply,
          `bytes ${Buffer.from(bytes).toString("hex").slice(0, 80)} as ${contentType}`,
        );
      }),
      { numRuns: RUNS },
    );
    await assertAlive(harness);
  });

  test("property: random methods, paths and headers", async () => {
    const methods = fc.constantFrom("GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS");
    const paths = fc.oneof(
      fc.constantFrom(
        "/graphql",
        "/graphql/",
        "/GRAPHQL",
        "/graphql?query=%7B__typename%7D",
        `/graphql?query=${encodeURIComponent(ACCESS_TOKEN_MUTATION)}`,
        "/graphql?query=%7B&variables=%5B",
        "/healthz",
        "/readyz",
        "/metrics",
        "/",
        "/../../etc/passwd",
        "/graphql%00",
        "//graphql",
      ),
      fc
        .string({ unit: nastyUnit, maxLength: 30 })
        .map((text) => `/${encodeURIComponent(text.toWellFormed())}`),
    );
    const headerValue = fc.string({ unit: "grapheme-ascii", maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(
        methods,
        paths,
        headerValue,
        headerValue,
        async (method, path, forwarded, requestId) => {
          const authorization = `Bearer ${marker()}`;
          authorizationValues.push(authorization);
          const init: RequestInit = {
            method,
            headers: {
              authorization,
              cookie: `session=${marker()}`,
              "x-forwarded-for": forwarded,
              "x-request-id": requestId,
              "apollo-require-preflight": "true",
              "content-type": "application/json",
            },
          };
          if (method !== "GET" && method !== "HEAD") {
            init.body = JSON.stringify({
              query: ACCESS_TOKEN_MUTATION,
              variables: { clientId: CLIENT_ID, clientSecret: marker() },
            });
          }
          const reply = await request(harness, path, init);
          const what = `${method} ${path}`;
          if (path.startsWith("/graphql?") || path === "/graphql") assertWellBehaved(reply, what);
          else {
            assert.ok(reply.status < 500, `${what}: HTTP ${reply.status}`);
            assertMasked(reply.text, what);
          }
          // The request id echoed back is either the caller's well-formed one or a fresh one.
          const echoed = reply.headers.get("x-request-id");
          if (echoed !== null) assert.match(echoed, /^[A-Za-z0-9._:-]{1,128}$/);
        },
      ),
      { numRuns: RUNS },
    );
    await assertAlive(harness);
  });

  test("invalid UTF-8 is refused, even inside a secret, before any upstream call", async () => {
    const before = harness.fake.totalTokenRequests;
    const prefix = new TextEncoder().encode(
      `{"query":${JSON.stringify(ACCESS_TOKEN_MUTATION)},"variables":{"clientId":"${CLIENT_ID}","clientSecret":"`,
    );
    const suffix = new TextEncoder().encode('"}}');
    for (const bad of [
      [0xff],
      [0xc0, 0xaf],
      [0xed, 0xa0, 0x80],
      [0xe2, 0x82],
      [0xf8, 0x88, 0x80, 0x80, 0x80],
    ]) {
      const body = new Uint8Array([...prefix, 0x61, ...bad, 0x62, ...suffix]);
      const reply = await post(harness, body, { "content-type": "application/json" });
      assert.equal(reply.status, 400);
      assert.deepEqual(codesOf(assertWellBehaved(reply, "invalid utf-8")), ["BAD_REQUEST"]);
    }
    assert.equal(harness.fake.totalTokenRequests, before);
    await assertAlive(harness);
  });

  test("malformed JSON, wrong content types and batches are 4xx", async () => {
    const operation = JSON.stringify({
      query: ACCESS_TOKEN_MUTATION,
      variables: { clientId: CLIENT_ID, clientSecret: marker() },
    });
    const cases: [string, string | Uint8Array, Record<string, string>][] = [
      ["truncated", operation.slice(0, -3), { "content-type": "application/json" }],
      ["empty", "", { "content-type": "application/json" }],
      ["null", "null", { "content-type": "application/json" }],
      ["number", "42", { "content-type": "application/json" }],
      ["string", '"{ __typename }"', { "content-type": "application/json" }],
      ["empty object", "{}", { "content-type": "application/json" }],
      ["empty batch", "[]", { "content-type": "application/json" }],
      ["batch", `[${operation},${operation}]`, { "content-type": "application/json" }],
      [
        "huge batch",
        `[${Array(200).fill('{"query":"{ __typename }"}').join(",")}]`,
        { "content-type": "application/json" },
      ],
      ["text/plain", operation, { "content-type": "text/plain" }],
      ["multipart", operation, { "content-type": "multipart/form-data; boundary=x" }],
      [
        "multipart + preflight",
        operation,
        { "content-type": "multipart/form-data; boundary=x", "apollo-require-preflight": "1" },
      ],
      ["no content type", new TextEncoder().encode(operation), {}],
      [
        "no content type + preflight",
        new TextEncoder().encode(operation),
        { "apollo-require-preflight": "1" },
      ],
      ["graphql", ACCESS_TOKEN_MUTATION, { "content-type": "application/graphql" }],
      [
        "form",
        `query=${encodeURIComponent(ACCESS_TOKEN_MUTATION)}`,
        { "content-type": "application/x-www-form-urlencoded" },
      ],
      // A UTF-8 byte order mark is consumed by the decoder, as the Encoding standard says: a valid request.
      ["bom", '\ufeff{"query":"{ __typename }"}', { "content-type": "application/json" }],
      [
        "duplicate keys",
        `{"query":"{ __typename }","query":${JSON.stringify(ACCESS_TOKEN_MUTATION)}}`,
        { "content-type": "application/json" },
      ],
    ];
    const before = harness.fake.totalTokenRequests;
    for (const [name, body, headers] of cases) {
      const reply = await post(harness, body, headers);
      const parsed = assertWellBehaved(reply, name);
      if (name === "bom") assert.deepEqual(parsed, { data: { __typename: "Query" } });
      else if (name === "duplicate keys") assert.ok(codesOf(parsed).length > 0, `${name}: ${reply.text}`);
      else assert.ok(reply.status >= 400 && reply.status < 500, `${name}: ${reply.status}`);
    }
    // The duplicate-key body resolves to the mutation without credentials: still nothing upstream.
    assert.equal(harness.fake.totalTokenRequests, before);
    await assertAlive(harness);
  });

  test("deep nesting, thousands of aliases and huge variable objects", async () => {
    const before = harness.fake.totalTokenRequests;
    const secret = marker();
    const nestedVariables = `${'{"a":'.repeat(10_000)}1${"}".repeat(10_000)}`;
    const cases: [string, string][] = [
      ["10k brackets as the body", `${"[".repeat(10_000)}${"]".repeat(10_000)}`],
      ["10k unclosed brackets", "[".repeat(10_000)],
      ["10k braces as the query", JSON.stringify({ query: "{".repeat(10_000) })],
      ["10k parentheses", JSON.stringify({ query: `{ __typename${"(".repeat(10_000)} }` })],
      ["10k list values", JSON.stringify({ query: `{ _entities(representations: ${"[".repeat(10_000)}) }` })],
      [
        "10k nested variables",
        `{"query":${JSON.stringify(ACCESS_TOKEN_MUTATION)},"variables":${nestedVariables}}`,
      ],
      [
        "10k nested variable as the secret",
        `{"query":${JSON.stringify(ACCESS_TOKEN_MUTATION)},"variables":{"clientId":"${CLIENT_ID}","clientSecret":${nestedVariables.replace("1", JSON.stringify(secret))}}}`,
      ],
      [
        "3000 aliases",
        JSON.stringify({
          query: `{ ${Array.from({ length: 3000 }, (_, i) => `a${i}: __typename`).join(" ")} }`,
        }),
      ],
      [
        "1000 accessToken aliases",
        JSON.stringify({
          query: `mutation ($i: String!, $s: String!) { ${Array.from({ length: 1000 }, (_, i) => `t${i}: accessToken(clientId: $i, clientSecret: $s) { tokenType }`).join(" ")} }`,
          variables: { i: CLIENT_ID, s: secret },
        }),
      ],
      [
        "5000 variables",
        JSON.stringify({
          query: ACCESS_TOKEN_MUTATION,
          variables: {
            ...Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`k${i}`, i])),
            clientId: CLIENT_ID,
            clientSecret: 12345,
          },
        }),
      ],
      [
        "a 60 KB string variable",
        JSON.stringify({
          query: ACCESS_TOKEN_MUTATION,
          variables: { clientId: CLIENT_ID, clientSecret: `${secret}${"x".repeat(60_000)}` },
        }),
      ],
      [
        "a chain of fragments that each spread the next twice",
        JSON.stringify({
          query: `mutation { ...F0 } ${Array.from({ length: 40 }, (_, i) => `fragment F${i} on Mutation { ...F${i + 1} ...F${i + 1} }`).join(" ")} fragment F40 on Mutation { __typename }`,
        }),
      ],
      [
        "10k fragment spreads",
        JSON.stringify({
          query: `mutation { ${"...F ".repeat(10_000)} } fragment F on Mutation { __typename }`,
        }),
      ],
    ];
    for (const [name, body] of cases) {
      const reply = await post(harness, body, { "content-type": "application/json" });
      const parsed = assertWellBehaved(reply, name);
      assert.ok(codesOf(parsed).length > 0, `${name}: ${reply.text.slice(0, 200)}`);
      await assertAlive(harness);
    }
    assert.equal(harness.fake.totalTokenRequests, before);
  });

  test("1 MB+ credentials are refused with 413, by body and by URL", async () => {
    const before = harness.fake.totalTokenRequests;
    const huge = `${marker()}${"\u202e😀\u0000".repeat(100_000)}`;
    for (const variables of [
      { clientId: huge, clientSecret: marker() },
      { clientId: CLIENT_ID, clientSecret: huge },
    ]) {
      const reply = await postJson(harness, { query: ACCESS_TOKEN_MUTATION, variables });
      assert.equal(reply.status, 413);
      assertWellBehaved(reply, "1 MB body");
    }
    const search = new URLSearchParams({
      query: ACCESS_TOKEN_MUTATION,
      variables: JSON.stringify({ clientSecret: huge }),
    });
    const viaUrl = await request(harness, `/graphql?${search}`, {
      headers: { "apollo-require-preflight": "1" },
    });
    assertWellBehaved(viaUrl, "1 MB URL");
    assert.ok(viaUrl.status >= 400 && viaUrl.status < 500);
    assert.equal(harness.fake.totalTokenRequests, before);
    await assertAlive(harness);
  });

  test("GET mutations, unknown paths and other methods", async () => {
    const before = harness.fake.totalTokenRequests;
    const search = new URLSearchParams({
      query: ACCESS_TOKEN_MUTATION,
      variables: JSON.stringify({ clientId: CLIENT_ID, clientSecret: marker() }),
    });
    const withPreflight = await request(harness, `/graphql?${search}`, {
      headers: { "apollo-require-preflight": "1" },
    });
    assert.equal(withPreflight.status, 405);
    assertWellBehaved(withPreflight, "GET mutation");
    const withoutPreflight = await request(harness, `/graphql?${search}`);
    assert.equal(withoutPreflight.status, 400);
    assertWellBehaved(withoutPreflight, "GET mutation without preflight");

    assert.equal((await request(harness, "/nope")).status, 404);
    assert.equal((await request(harness, "/graphql/extra")).status, 404);
    for (const method of ["PUT", "DELETE", "PATCH", "HEAD"]) {
      const reply = await request(harness, "/graphql", {
        method,
        headers: { "apollo-require-preflight": "1" },
      });
      assert.equal(reply.status, 405, method);
      assertWellBehaved(reply, `${method} /graphql`);
      const elsewhere = await request(harness, "/healthz", { method });
      assert.ok(
        elsewhere.status === 405 || (method === "HEAD" && elsewhere.status === 200),
        `${method} /healthz`,
      );
    }
    assert.equal(harness.fake.totalTokenRequests, before);
    await assertAlive(harness);
  });

  test("broken HTTP: garbage, oversized headers, a body cut short", async () => {
    const port = Number(new URL(harness.origin).port);
    const exchange = (raw: string, cut = false): Promise<string> =>
      new Promise((resolve, reject) => {
        const socket = connect(port, "127.0.0.1");
        let received = "";
        socket.on("data", (chunk) => {
          received += chunk.toString("latin1");
        });
        socket.on("error", reject);
        socket.on("close", () => resolve(received));
        socket.on("connect", () => {
          socket.write(raw);
          if (cut) socket.destroy();
        });
      });

    assert.match(await exchange("GARBAGE \u0000 HTTP/9\r\n\r\n"), /^HTTP\/1\.1 400/);
    assert.match(
      await exchange(`GET /graphql HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`),
      /^HTTP\/1\.1 431/,
    );
    assert.match(
      await exchange(
        "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
      ),
      /^HTTP\/1\.1 400/,
    );
    const logged = harness.logs.length;
    await exchange(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{"query":"${marker()}`,
      true,
    );
    // The cut-short request is logged once it is given up; wait for that line, on the event loop only.
    for (
      let turn = 0;
      turn < 100_000 && !harness.logs.slice(logged).some((line) => line.includes('"ABORTED"'));
      turn++
    ) {
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(harness.logs.slice(logged).some((line) => line.includes('"ABORTED"')));
    await assertAlive(harness);
  });
});

describe("hostile credentials", () => {
  let harness: Harness;
  let attempts = 0;

  before(async () => {
    // One address per run (through a trusted proxy), so lockouts do not hide the upstream path.
    harness = await startHarness({ env: { TRUSTED_PROXIES: "127.0.0.1" } });
  });

  after(async () => {
    try {
      assert.deepEqual(incidents, []);
      assertNothingLeaked(harness, [CLIENT_SECRET]);
      assert.ok(harness.fake.totalTokenRequests <= attempts);
    } finally {
      await harness.close();
    }
  });

  /** The documented argument rules: 1 to 256 printable characters of well-formed text. */
  function acceptable(value: string): boolean {
    return (
      value.trim().length > 0 &&
      value.length <= CREDENTIAL_MAX_LENGTH &&
      // biome-ignore lint/suspicious/noControlCharactersInRegex: C0 and C1 controls are what is refused.
      !/[\u0000-\u001f\u007f-\u009f]/.test(value) &&
      value.isWellFormed()
    );
  }

  test("property: random clientId/clientSecret strings are refused locally or sent upstream exactly", async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(nastyString, nastyString, fc.boolean(), async (clientId, secretTail, register) => {
        run += 1;
        const clientSecret = `${marker()}${secretTail}`;
        const valid = acceptable(clientId) && acceptable(clientSecret);
        if (register && valid) harness.fake.addClient(clientId, clientSecret);
        const before = harness.fake.totalTokenRequests;
        const reply = await postJson(
          harness,
          { query: ACCESS_TOKEN_MUTATION, variables: { clientId, clientSecret } },
          { "x-forwarded-for": `10.1.${(run >> 8) & 255}.${run & 255}` },
        );
        const body = assertWellBehaved(reply, `credentials ${JSON.stringify({ clientId, clientSecret })}`);
        const calls = harness.fake.totalTokenRequests - before;
        attempts += 1;
        assert.ok(calls <= 1, `${calls} upstream calls for one field`);
        const [code] = codesOf(body);
        if (!valid) {
          assert.equal(code, "BAD_USER_INPUT", reply.text);
          assert.equal(calls, 0);
          return;
        }
        if (register) assert.ok(code === undefined || code === "TOO_MANY_ATTEMPTS", reply.text);
        else assert.ok(code === "INVALID_CREDENTIALS" || code === "TOO_MANY_ATTEMPTS", reply.text);
        if (calls === 1) {
          // What reached Aspose is exactly what the caller sent: no replacement character, no truncation.
          const sent = harness.fake.requests.at(-1)?.form;
          assert.equal(sent?.client_id, clientId);
          assert.equal(sent?.client_secret, clientSecret);
          assert.equal(sent?.grant_type, "client_credentials");
        }
      }),
      { numRuns: RUNS },
    );
    await assertAlive(harness);
  });

  test("blank and whitespace-only credentials are refused locally", async () => {
    const before = harness.fake.totalTokenRequests;
    for (const [clientId, clientSecret] of [
      ["", marker()],
      [CLIENT_ID, ""],
      [" \t ", marker()],
      [CLIENT_ID, "\u3000\u00a0"],
    ]) {
      const reply = await postJson(harness, {
        query: ACCESS_TOKEN_MUTATION,
        variables: { clientId, clientSecret },
      });
      assert.deepEqual(codesOf(assertWellBehaved(reply, "blank")), ["BAD_USER_INPUT"]);
    }
    assert.equal(harness.fake.totalTokenRequests, before);
  });
});
