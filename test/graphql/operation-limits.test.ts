/**
 * Operation-shape limits, proven over real HTTP against the real service: every refusal is a coded
 * GraphQL error and happens before anything is sent to the (fake) Aspose upstream. A refused document
 * is a request error: 200 for a client that accepts application/json, 400 for
 * application/graphql-response+json (GraphQL over HTTP); a request that is not GraphQL is a 4xx.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { type DocumentNode, Kind, parse, validate } from "graphql";
import { maxTokenFieldsRule, secretAsVariableRule } from "../../src/graphql/operation-rules.js";
import { buildSchema } from "../../src/graphql/schema.js";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  leakedSecrets,
  post,
  request,
  startHarness,
} from "../support/harness.js";

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  errors: { message: string; extensions?: { code?: string } }[];
  data: unknown;
}

const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
const TOKEN_FIELD = "accessToken(clientId: $clientId, clientSecret: $clientSecret) { tokenType }";
const VARIABLES_HEADER = "mutation ($clientId: String!, $clientSecret: String!)";

async function send(harness: Harness, body: unknown, headers?: Record<string, string>): Promise<Answer> {
  const reply = await post(harness, JSON.stringify(body), {
    "content-type": "application/json",
    ...headers,
  });
  return parsed(reply);
}

function parsed(reply: { status: number; text: string; headers: Headers }): Answer {
  let json: { errors?: Answer["errors"]; data?: unknown } = {};
  try {
    json = JSON.parse(reply.text) as typeof json;
  } catch {
    // Left empty: a body that is not JSON fails the assertions on `errors` that follow.
  }
  return { ...reply, errors: json.errors ?? [], data: json.data };
}

function codes(answer: Answer): (string | undefined)[] {
  return answer.errors.map((error) => error.extensions?.code);
}

/** A refusal: the expected status, every error coded, nothing sent upstream. */
function assertRefused(harness: Harness, answer: Answer, status: number | "4xx", code?: string): void {
  if (status === "4xx") assert.ok(answer.status >= 400 && answer.status < 500, `status ${answer.status}`);
  else assert.equal(answer.status, status, answer.text);
  assert.ok(answer.errors.length > 0, `no errors in ${answer.text}`);
  for (const error of answer.errors) assert.equal(typeof error.extensions?.code, "string", answer.text);
  if (code !== undefined) assert.ok(codes(answer).includes(code), `${code} missing in ${answer.text}`);
  assert.equal(harness.fake.totalTokenRequests, 0, "the upstream must not be called");
  assert.equal(harness.fake.requests.length, 0, "the upstream must not be contacted at all");
}

/** Nothing a client sees may carry internals: stacks, file paths, upstream details. */
function assertMasked(harness: Harness): void {
  for (const text of harness.responses) {
    for (const needle of ["stack", "at /", "node_modules", "node:internal", "/work/", ".ts:", "file://"]) {
      assert.ok(!text.includes(needle), `response contains ${JSON.stringify(needle)}: ${text.slice(0, 300)}`);
    }
    assert.ok(!text.includes(harness.fake.url), "response names the upstream");
    assert.ok(!text.includes("INTERNAL_SERVER_ERROR"), `unexpected internal error: ${text.slice(0, 300)}`);
  }
}

function aliased(count: number): string {
  return Array.from({ length: count }, (_, i) => `t${i}: ${TOKEN_FIELD}`).join("\n");
}

describe("operation limits", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    try {
      assertMasked(harness);
      assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    } finally {
      await harness.close();
    }
  });

  test("four accessToken fields through aliases are refused with BAD_USER_INPUT", async () => {
    const answer = await send(harness, {
      query: `${VARIABLES_HEADER} { ${aliased(4)} }`,
      variables: CREDENTIALS,
    });
    assertRefused(harness, answer, 200, "BAD_USER_INPUT");
    assert.match(answer.errors[0]?.message ?? "", /at most 3/);
  });

  test("named fragments, repeated spreads and inline fragments all count", async () => {
    const shapes = [
      `${VARIABLES_HEADER} { ...F ...F ...F ...F } fragment F on Mutation { ${TOKEN_FIELD} }`,
      `${VARIABLES_HEADER} { ... { a: ${TOKEN_FIELD} } ... on Mutation { b: ${TOKEN_FIELD} } ` +
        `... { ... on Mutation { c: ${TOKEN_FIELD} d: ${TOKEN_FIELD} } } }`,
      `${VARIABLES_HEADER} { ...A } fragment A on Mutation { ...B ...B } ` +
        `fragment B on Mutation { x: ${TOKEN_FIELD} y: ${TOKEN_FIELD} }`,
      `${VARIABLES_HEADER} { ${TOKEN_FIELD} ...F } fragment F on Mutation { ... { a: ${TOKEN_FIELD} ...G } } ` +
        `fragment G on Mutation { b: ${TOKEN_FIELD} c: ${TOKEN_FIELD} }`,
    ];
    for (const query of shapes) {
      const answer = await send(harness, { query, variables: CREDENTIALS });
      assertRefused(harness, answer, 200, "BAD_USER_INPUT");
    }
  });

  test("the limit is exact: three fields are allowed, with the same credentials fetched once", async () => {
    const own = await startHarness();
    try {
      const answer = await send(own, {
        query: `${VARIABLES_HEADER} { ${aliased(3)} }`,
        variables: CREDENTIALS,
      });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.errors, []);
      assert.equal(own.fake.totalTokenRequests, 1);
      const lowered = await startHarness({ env: { MAX_TOKEN_FIELDS_PER_OPERATION: "1" } });
      try {
        const refused = await send(lowered, {
          query: `${VARIABLES_HEADER} { ${aliased(2)} }`,
          variables: CREDENTIALS,
        });
        assertRefused(lowered, refused, 200, "BAD_USER_INPUT");
      } finally {
        await lowered.close();
      }
    } finally {
      await own.close();
    }
  });

  test("alias, depth and directive limits are coded refusals, not 500s", async () => {
    const aliases = await send(harness, {
      query: `{ ${Array.from({ length: 11 }, (_, i) => `s${i}: _service { sdl }`).join(" ")} }`,
    });
    assertRefused(harness, aliases, 200, "BAD_USER_INPUT");
    assert.match(aliases.errors[0]?.message ?? "", /too many aliases/);

    const tokenAliases = await send(harness, {
      query: `${VARIABLES_HEADER} { ${aliased(11)} }`,
      variables: CREDENTIALS,
    });
    assertRefused(harness, tokenAliases, 200, "BAD_USER_INPUT");

    const depth = await send(harness, { query: `{ ${"a { ".repeat(11)}b${" }".repeat(11)} }` });
    assertRefused(harness, depth, 200, "BAD_USER_INPUT");
    assert.match(depth.errors[0]?.message ?? "", /nested too deeply/);

    // Depth through fragment spreads counts as well.
    let chain = "";
    for (let i = 0; i < 12; i++) chain += ` fragment D${i} on Query { ...D${i + 1} }`;
    const spreadDepth = await send(harness, {
      query: `{ ...D0 }${chain} fragment D12 on Query { __typename }`,
    });
    assertRefused(harness, spreadDepth, 200, "BAD_USER_INPUT");

    const directives = await send(harness, {
      // The same field repeated without aliases: only the directives are over their limit.
      query: `{ ${Array.from({ length: 11 }, () => "__typename @include(if: true)").join(" ")} }`,
    });
    assertRefused(harness, directives, 200, "BAD_USER_INPUT");
    assert.match(directives.errors[0]?.message ?? "", /too many directives/);
    // The limits themselves are not disclosed.
    for (const answer of [aliases, depth, directives])
      assert.doesNotMatch(answer.errors[0]?.message ?? "", /\d/);
  });

  test("aliases of __typename count toward the alias limit, and an alias named __typename too", async () => {
    const typenames = await send(harness, {
      query: `{ ${Array.from({ length: 40 }, (_, i) => `t${i}: __typename`).join(" ")} }`,
    });
    assertRefused(harness, typenames, 200, "BAD_USER_INPUT");
    assert.match(typenames.errors[0]?.message ?? "", /too many aliases/);
    const named = await send(harness, {
      query: `${VARIABLES_HEADER} { accessToken(clientId: $clientId, clientSecret: $clientSecret) {
        ${Array.from({ length: 11 }, () => "__typename: tokenType").join(" ")} } }`,
      variables: CREDENTIALS,
    });
    assertRefused(harness, named, 200, "BAD_USER_INPUT");
    // At the limit, __typename aliases are an ordinary operation.
    const atLimit = await send(harness, {
      query: `{ ${Array.from({ length: 10 }, (_, i) => `t${i}: __typename`).join(" ")} }`,
    });
    assert.equal(atLimit.status, 200);
    assert.deepEqual(atLimit.errors, [], atLimit.text);
  });

  test("the token limit stops a huge document while parsing", async () => {
    const tokens = await send(harness, { query: `{ ${"__typename ".repeat(1001)} }` });
    assertRefused(harness, tokens, 200, "GRAPHQL_PARSE_FAILED");
    const brackets = await send(harness, { query: "{".repeat(10_000) });
    assertRefused(harness, brackets, 200, "GRAPHQL_PARSE_FAILED");
  });

  test("a chain of doubling fragment spreads is a coded refusal (see the rule's own test for its cost)", async () => {
    // 16 levels of `...F(n+1) ...F(n+1)`: 65,536 accessToken fields if expanded.
    let chain = "";
    for (let i = 0; i < 16; i++) chain += ` fragment F${i} on Mutation { ...F${i + 1} ...F${i + 1} }`;
    const answer = await send(harness, {
      query: `${VARIABLES_HEADER} { ...F0 }${chain} fragment F16 on Mutation { ${TOKEN_FIELD} }`,
      variables: CREDENTIALS,
    });
    assertRefused(harness, answer, 200, "BAD_USER_INPUT");
  });

  test("a subscription (this subgraph has none) is a coded refusal, not an internal error", async () => {
    for (const query of ["subscription { _service { sdl } }", "subscription _service { sdl }"]) {
      const answer = await send(harness, { query });
      assertRefused(harness, answer, 200, "GRAPHQL_VALIDATION_FAILED");
      assert.match(answer.errors[0]?.message ?? "", /subscription/);
    }
  });

  test("the refusal's status follows Accept: 200 for application/json, 400 for application/graphql-response+json", async () => {
    const operation = { query: `${VARIABLES_HEADER} { ${aliased(4)} }`, variables: CREDENTIALS };
    const cases = [
      [undefined, 200, "application/json"],
      ["application/json", 200, "application/json"],
      ["*/*", 200, "application/json"],
      ["application/graphql-response+json", 400, "application/graphql-response+json"],
      ["application/graphql-response+json, application/json;q=0.9", 400, "application/graphql-response+json"],
      ["application/json, application/graphql-response+json;q=0.5", 200, "application/json"],
    ] as const;
    // Twice over: the second round is answered from the refusal memory, which keeps one answer per kind.
    for (let round = 0; round < 2; round++) {
      for (const [accept, status, type] of cases) {
        const answer = await send(harness, operation, accept === undefined ? {} : { accept });
        assertRefused(harness, answer, status, "BAD_USER_INPUT");
        assert.match(answer.headers.get("content-type") ?? "", new RegExp(`^${type.replace("+", "\\+")}`));
      }
    }
  });

  test("HTTP batching (a JSON array body) is refused", async () => {
    const answer = await send(harness, [
      { query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS },
      { query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS },
    ]);
    assertRefused(harness, answer, 400, "BAD_REQUEST");
  });

  test("a body over REQUEST_BODY_LIMIT_BYTES gets 413, with or without a Content-Length", async () => {
    const body = JSON.stringify({
      query: ACCESS_TOKEN_MUTATION,
      variables: { ...CREDENTIALS, padding: "x".repeat(64 * 1024) },
    });
    const declared = await send(harness, JSON.parse(body));
    assertRefused(harness, declared, 413);

    // Chunked: no Content-Length, so the limit must be enforced while reading.
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"query":"{ __typename }"'));
        for (let i = 0; i < 8; i++) controller.enqueue(chunk);
        controller.enqueue(new TextEncoder().encode("}"));
        controller.close();
      },
    });
    // `duplex` is required by fetch for a streamed body but is missing from the DOM RequestInit type.
    const init = {
      method: "POST",
      body: stream,
      headers: { "content-type": "application/json" },
      duplex: "half",
    };
    assertRefused(harness, parsed(await request(harness, "/graphql", init as RequestInit)), 413);

    // Just under the limit is read normally.
    const small = await send(harness, { query: "{ __typename }", padding: "x".repeat(60 * 1024) });
    assert.equal(small.status, 200, small.text);
  });

  test("CSRF prevention: simple requests without a preflight header are refused", async () => {
    const operation = JSON.stringify({ query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS });
    for (const contentType of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
    ]) {
      const answer = parsed(await post(harness, operation, { "content-type": contentType }));
      assertRefused(harness, answer, 400, "BAD_REQUEST");
      assert.match(answer.errors[0]?.message ?? "", /CSRF/);
    }
    // No content type at all (a byte body makes fetch send none).
    const none = parsed(await post(harness, new TextEncoder().encode(operation), {}));
    assertRefused(harness, none, 400, "BAD_REQUEST");

    const get = await request(harness, `/graphql?query=${encodeURIComponent("{ __typename }")}`);
    const getText = get.text;
    assertRefused(harness, parsed(get), 400);
    assert.match(getText, /CSRF/);
  });

  test("mutations over GET are refused with 405 even with a preflight header", async () => {
    const search = new URLSearchParams({
      query: ACCESS_TOKEN_MUTATION,
      variables: JSON.stringify(CREDENTIALS),
    });
    const response = await request(harness, `/graphql?${search}`, {
      headers: { "apollo-require-preflight": "true" },
    });
    assertRefused(harness, parsed(response), 405);
  });
});

describe("clientSecret must be a variable", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    try {
      assertMasked(harness);
    } finally {
      await harness.close();
    }
  });

  test("a literal secret is refused with a message about variables, and is not echoed", async () => {
    const literal = "literal-secret-0123456789abcdef";
    const answer = await send(harness, {
      query: `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${literal}") { tokenType } }`,
    });
    assertRefused(harness, answer, 200, "BAD_USER_INPUT");
    assert.match(answer.errors[0]?.message ?? "", /variable/i);
    assert.ok(!answer.text.includes(literal));
    assert.deepEqual(leakedSecrets(harness, [literal]), []);
  });

  test("a literal secret inside a fragment or as a block string is refused too", async () => {
    const literal = "fragment-secret-0123456789abcdef";
    for (const query of [
      `mutation { ...F } fragment F on Mutation { accessToken(clientId: "a", clientSecret: "${literal}") { tokenType } }`,
      `mutation { ... on Mutation { accessToken(clientId: "a", clientSecret: """${literal}""") { tokenType } } }`,
    ]) {
      const answer = await send(harness, { query });
      assertRefused(harness, answer, 200, "BAD_USER_INPUT");
    }
    assert.deepEqual(leakedSecrets(harness, [literal]), []);
  });

  test("a default value on the secret's variable is a literal in the text and is refused", async () => {
    const literal = "default-secret-0123456789abcdef";
    const answer = await send(harness, {
      query: `mutation ($id: String!, $secret: String! = "${literal}") { accessToken(clientId: $id, clientSecret: $secret) { tokenType } }`,
      variables: { id: CLIENT_ID },
    });
    assertRefused(harness, answer, 200, "BAD_USER_INPUT");
    assert.match(answer.errors[0]?.message ?? "", /variable/i);
    assert.deepEqual(leakedSecrets(harness, [literal]), []);
  });

  test("a literal clientId with the secret as a variable is fine", async () => {
    const own = await startHarness();
    try {
      const answer = await send(own, {
        query: `mutation ($s: String!) { accessToken(clientId: "${CLIENT_ID}", clientSecret: $s) { tokenType } }`,
        variables: { s: CLIENT_SECRET },
      });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.errors, []);
      assert.equal(own.fake.totalTokenRequests, 1);
    } finally {
      await own.close();
    }
  });

  test("REQUIRE_SECRET_VARIABLES=off allows the literal", async () => {
    const own = await startHarness({ env: { REQUIRE_SECRET_VARIABLES: "off" } });
    try {
      const answer = await send(own, {
        query: `mutation { accessToken(clientId: "${CLIENT_ID}", clientSecret: "${CLIENT_SECRET}") { tokenType } }`,
      });
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual(answer.errors, []);
      assert.deepEqual(answer.data, { accessToken: { tokenType: "Bearer" } });
      assert.equal(own.fake.totalTokenRequests, 1);
    } finally {
      await own.close();
    }
  });
});

describe("token answers", () => {
  test("carry Cache-Control: no-store, successful or not", async () => {
    const harness = await startHarness();
    try {
      const ok = await send(harness, { query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS });
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.errors, []);
      assert.equal(ok.headers.get("cache-control"), "no-store");
      const wrong = await send(harness, {
        query: ACCESS_TOKEN_MUTATION,
        variables: { ...CREDENTIALS, clientSecret: "wrong-secret-0000" },
      });
      assert.deepEqual(codes(wrong), ["INVALID_CREDENTIALS"]);
      assert.equal(wrong.headers.get("cache-control"), "no-store");
      const refused = await send(harness, [{ query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS }]);
      assert.equal(refused.headers.get("cache-control"), "no-store");
      assertMasked(harness);
    } finally {
      await harness.close();
    }
  });
});

describe("maxTokenFieldsRule on its own", () => {
  const schema = buildSchema();

  /** Parses `source` and counts how often any fragment's selection set is read. */
  function instrumented(source: string): { document: DocumentNode; reads: () => number } {
    const document = parse(source, { noLocation: true });
    let reads = 0;
    for (const definition of document.definitions) {
      if (definition.kind !== Kind.FRAGMENT_DEFINITION) continue;
      const selectionSet = definition.selectionSet;
      Object.defineProperty(definition, "selectionSet", {
        get: () => {
          reads += 1;
          return selectionSet;
        },
      });
    }
    return { document, reads: () => reads };
  }

  test("counts through a doubling fragment chain and reads each fragment a bounded number of times", () => {
    const levels = 20;
    let source = `${VARIABLES_HEADER} { ...F0 }`;
    for (let i = 0; i < levels; i++) source += ` fragment F${i} on Mutation { ...F${i + 1} ...F${i + 1} }`;
    source += ` fragment F${levels} on Mutation { ${TOKEN_FIELD} }`;
    const { document, reads } = instrumented(source);
    const errors = validate(schema, document, [maxTokenFieldsRule(3)]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", new RegExp(`requests it ${2 ** levels} times`));
    // graphql-js's own traversal reads each fragment a few times; a 2^n walk would read ~2 million.
    assert.ok(reads() < 20 * (levels + 1), `fragments read ${reads()} times`);
  });

  test("fragment cycles do not loop", () => {
    const document = parse(
      `${VARIABLES_HEADER} { ...A } fragment A on Mutation { ${TOKEN_FIELD} ...B } fragment B on Mutation { ...A }`,
    );
    const errors = validate(schema, document, [maxTokenFieldsRule(3)]);
    assert.deepEqual(errors, []);
  });

  test("secretAsVariableRule accepts variables and refuses literals and defaults", () => {
    const accepted = parse(`${VARIABLES_HEADER} { ${TOKEN_FIELD} }`);
    assert.deepEqual(validate(schema, accepted, [secretAsVariableRule]), []);
    const literal = parse(`mutation { accessToken(clientId: "a", clientSecret: "b") { tokenType } }`);
    assert.equal(validate(schema, literal, [secretAsVariableRule]).length, 1);
    const defaulted = parse(
      `mutation ($s: String = "b") { accessToken(clientId: "a", clientSecret: $s) { tokenType } }`,
    );
    assert.equal(validate(schema, defaulted, [secretAsVariableRule]).length, 1);
    // A default on some other variable is not the secret's business.
    const other = parse(
      `mutation ($s: String!, $m: Int = 60) { accessToken(clientId: "a", clientSecret: $s, minValidity: $m) { tokenType } }`,
    );
    assert.deepEqual(validate(schema, other, [secretAsVariableRule]), []);
  });

  test("secretAsVariableRule treats a reported rejectedToken as the bearer token it is", () => {
    const asVariable = parse(
      `mutation ($s: String!, $r: String) { accessToken(clientId: "a", clientSecret: $s, rejectedToken: $r) { tokenType } }`,
    );
    assert.deepEqual(validate(schema, asVariable, [secretAsVariableRule]), []);
    const literal = parse(
      `mutation ($s: String!) { accessToken(clientId: "a", clientSecret: $s, rejectedToken: "eyJ.x.y") { tokenType } }`,
    );
    const errors = validate(schema, literal, [secretAsVariableRule]);
    assert.equal(errors.length, 1);
    assert.match(errors[0]?.message ?? "", /^rejectedToken must be passed as a GraphQL variable/);
    assert.equal(errors[0]?.message.includes("eyJ.x.y"), false);
    assert.equal(errors[0]?.extensions.code, "BAD_USER_INPUT");
    const defaulted = parse(
      `mutation ($s: String!, $r: String = "eyJ.x.y") { accessToken(clientId: "a", clientSecret: $s, rejectedToken: $r) { tokenType } }`,
    );
    assert.equal(validate(schema, defaulted, [secretAsVariableRule]).length, 1);
    const explicitNull = parse(
      `mutation ($s: String!) { accessToken(clientId: "a", clientSecret: $s, rejectedToken: null) { tokenType } }`,
    );
    assert.deepEqual(validate(schema, explicitNull, [secretAsVariableRule]), []);
  });
});
