/**
 * `npm run schema:print`, as an operator runs it before `rover subgraph publish`: stdout is the
 * subgraph SDL alone, it carries the federation @link, it composes, and it describes the same schema
 * the running service serves at `_service { sdl }`.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { composeServices } from "@apollo/composition";
import {
  buildASTSchema,
  type DocumentNode,
  lexicographicSortSchema,
  parse,
  printSchema,
  visit,
} from "graphql";
import { execute, type Harness, startHarness } from "../support/harness.js";
import { REPO_ROOT } from "../support/process.js";
import { REGIONS_TYPE_DEFS } from "../support/second-subgraph.js";

const run = promisify(execFile);

let printed: string;
let harness: Harness;

before(async () => {
  const { stdout } = await run("npm", ["run", "--silent", "schema:print"], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? REPO_ROOT },
  });
  printed = stdout;
  harness = await startHarness();
});

after(async () => {
  await harness.close();
});

/** The schema's types, fields and directives, sorted and without descriptions. */
function shape(document: DocumentNode): string {
  const bare = visit(document, {
    enter(node) {
      if ("description" in node && node.description !== undefined) return { ...node, description: undefined };
      return undefined;
    },
  });
  return printSchema(lexicographicSortSchema(buildASTSchema(bare, { assumeValidSDL: true })));
}

test("stdout is the SDL alone, with accessToken and the federation @link", () => {
  const document = parse(printed);
  assert.ok(document.definitions.length > 0);
  assert.match(printed, /accessToken\(\s*(?:(?:"""[\s\S]*?"""|"[^"\n]*")\s*)?clientId: String!/);
  assert.match(printed, /@link\(url: "https:\/\/specs\.apollo\.dev\/federation\/v2\.\d+"/);
});

test("the printed SDL composes with another subgraph, as rover would compose it", () => {
  const composed = composeServices([
    { name: "aspose-token", typeDefs: parse(printed), url: "http://aspose-token:4000/graphql" },
    { name: "regions", typeDefs: REGIONS_TYPE_DEFS, url: "http://regions:4001/graphql" },
  ]);
  assert.equal(composed.errors, undefined, composed.errors?.map((error) => error.message).join("; "));
  assert.match(composed.supergraphSdl ?? "", /accessToken\(/);
});

test("the printed SDL describes the schema the running service serves at _service { sdl }", async () => {
  const served = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  const sdl = served.data?._service.sdl ?? "";
  assert.notEqual(sdl, "");
  assert.equal(shape(parse(printed)), shape(parse(sdl)));
});

test("the printed SDL is byte for byte what _service { sdl } serves, descriptions included", async () => {
  const served = await execute<{ _service: { sdl: string } }>(harness, "query { _service { sdl } }");
  assert.equal(printed.trimEnd(), (served.data?._service.sdl ?? "").trimEnd());
});
