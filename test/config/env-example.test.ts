/**
 * `.env.example` is generated from the config declarations (`npm run config:check` keeps it so); these
 * tests hold it to what it promises an operator: an env file usable as it is, by Node and by the tools
 * that read env files literally (podman/docker `--env-file`, `kubectl create configmap
 * --from-env-file`: no inline comments, no quotes), listing every variable with the value the service
 * takes when it is unset.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { parseEnv } from "node:util";
import { CONFIG_SECTIONS, type Config, loadConfig } from "../../src/config/index.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import { ACCESS_TOKEN_MUTATION, CLIENT_ID, CLIENT_SECRET } from "../support/harness.js";
import { REPO_ROOT, startFake, startService } from "../support/process.js";

const FILE = readFileSync(join(REPO_ROOT, ".env.example"), "utf8");

/** The file as a literal reader takes it: `#` lines and blank lines skipped, the rest NAME=value as written. */
function literally(file: string): Record<string, string> {
  const entries = file
    .split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]);
  return Object.fromEntries(entries);
}

/** The config with the per-process random keys left out: two loads differ in them by design. */
function comparable(config: Config): unknown {
  return {
    ...config,
    tokens: { ...config.tokens, key: undefined },
    audit: { ...config.audit, key: undefined },
  };
}

test("read literally, .env.example loads as the defaults: no line carries a comment or quote into a value", () => {
  assert.deepEqual(comparable(loadConfig(literally(FILE))), comparable(loadConfig({})));
  const odd = FILE.split("\n").filter((line) => !/^(#.*|[A-Z][A-Z0-9_]*=[^\s#"'`]*|)$/.test(line));
  assert.deepEqual(odd, []);
});

test("Node's env-file parser reads the values a literal reader does", () => {
  assert.deepEqual(parseEnv(FILE), literally(FILE));
});

test(".env.example lists every declared variable once, and nothing else", () => {
  const declared = CONFIG_SECTIONS.flatMap((section) =>
    Object.values(section.variables)
      .filter((variable) => variable.kind !== "retired")
      .map(({ name }) => name),
  );
  assert.deepEqual(Object.keys(literally(FILE)).sort(), declared.sort());
  assert.equal(FILE.match(/^[A-Z][A-Z0-9_]*=/gm)?.length, declared.length, "a variable is listed twice");
});

test("secrets are listed without a value", () => {
  const parsed = parseEnv(FILE);
  const secrets = CONFIG_SECTIONS.flatMap((section) => Object.values(section.variables)).filter(
    (variable) => variable.secret,
  );
  assert.ok(secrets.length > 0);
  for (const { name } of secrets) assert.equal(parsed[name], "", `${name} has a value`);
});

test("node --env-file=.env.example starts the service, which serves a token", {
  timeout: 30_000,
}, async (t) => {
  const fake = await startFake(t);
  // The environment wins over the file: a free port, and the fake instead of api.aspose.cloud.
  const service = await startService({ ASPOSE_BASE_URL: fake.url }, undefined, ["--env-file=.env.example"]);
  t.after(() => service.kill());
  const answer = await readAnswer<{ accessToken: { accessToken: string } }>(
    await postOperation(`${service.origin}/graphql`, ACCESS_TOKEN_MUTATION, {
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
    }),
  );
  assert.equal(answer.errors, undefined, answer.text);
  assert.ok(answer.data?.accessToken.accessToken);
});
