/**
 * The client examples (examples/, shown in the README and docs/clients.md), run as a caller runs
 * them against the real service: each gets a token, and when the upstream fails or the secret is
 * wrong each prints the error's code and exits 1, with the secret nowhere in what it printed.
 * graphql-request's own error message is shown to carry the secret: the reason the examples print
 * codes, never the error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { ClientError, GraphQLClient } from "graphql-request";
import { spawnChild } from "../../dev/spawn.js";
import { AccessTokenDocument } from "../../src/client/index.js";
import { CLIENT_ID, CLIENT_SECRET, type Harness, startHarness } from "../support/harness.js";

const WRONG_SECRET = "wr0ng-s3cret-that-must-stay-home";

/** How each example is run: the TypeScript ones as their own package's importers (the source build). */
const EXAMPLES = {
  "graphql-request": [
    process.execPath,
    "--conditions=source",
    "--import",
    "tsx",
    "examples/graphql-request.ts",
  ],
  "apollo-client": [process.execPath, "--conditions=source", "--import", "tsx", "examples/apollo-client.ts"],
  curl: ["bash", "examples/curl.sh"],
} as const;

async function run(
  example: keyof typeof EXAMPLES,
  url: string,
  secret: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [command, ...args] = EXAMPLES[example];
  const child = spawnChild({
    command,
    args,
    env: { TOKEN_SERVICE_URL: url, ASPOSE_CLIENT_ID: CLIENT_ID, ASPOSE_CLIENT_SECRET: secret },
  });
  const exit = await child.exited;
  return { code: exit.code, stdout: child.lines.join("\n"), stderr: child.stderr() };
}

describe("the client examples against the real service", () => {
  let harness: Harness;
  before(async () => {
    // No cache: every run reaches the upstream, so a fault set for one run is what that run meets.
    harness = await startHarness({
      env: { ASPOSE_RETRY_LIMIT: "0", TOKEN_CACHE: "off", LOCKOUT_THRESHOLD: "100" },
    });
  });
  after(() => harness.close());

  for (const example of Object.keys(EXAMPLES) as (keyof typeof EXAMPLES)[]) {
    test(`${example}: a token, then the code of each failure and never the secret`, async () => {
      harness.fake.setFault(undefined);
      const served = await run(example, harness.url, CLIENT_SECRET);
      assert.equal(served.code, 0, served.stderr);
      assert.match(served.stdout, /^Bearer token valid for \d+ s$/m);
      // The token is for the caller's code, not its output.
      assert.doesNotMatch(served.stdout, /eyJ/);

      harness.fake.setFault({ kind: "status", status: 503 });
      const unavailable = await run(example, harness.url, CLIENT_SECRET);
      harness.fake.setFault(undefined);
      assert.equal(unavailable.code, 1);
      assert.match(unavailable.stderr, /^token refused: UPSTREAM_UNAVAILABLE$/m);

      const refused = await run(example, harness.url, WRONG_SECRET);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^token refused: INVALID_CREDENTIALS$/m);

      for (const printed of [served, unavailable, refused]) {
        const output = printed.stdout + printed.stderr;
        assert.ok(!output.includes(CLIENT_SECRET) && !output.includes(WRONG_SECRET), "a secret was printed");
      }
    });
  }

  test("graphql-request's ClientError quotes the variables: logging it would leak the secret", async () => {
    const client = new GraphQLClient(harness.url);
    const error = await client
      .request(AccessTokenDocument, { clientId: CLIENT_ID, clientSecret: WRONG_SECRET })
      .then(
        () => undefined,
        (caught: unknown) => caught,
      );
    assert.ok(error instanceof ClientError);
    assert.ok(error.message.includes(WRONG_SECRET), "graphql-request no longer quotes the request");
    assert.equal(error.response.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS");
  });
});
