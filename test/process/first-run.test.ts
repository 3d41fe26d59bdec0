/**
 * A first run without surprises: one start-up line that says what is running and nothing secret, with
 * blank variables read as unset (by Apollo too); a busy port is one clear line and a non-zero exit,
 * for `npm start` and `npm run dev` alike; an old Node is refused by the preflight with one line
 * naming the version (it runs before install's build, start, dev and test); npm install prints no
 * install-script warnings (.ci/run checks a real `npm ci` for them).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { spawnChild } from "../../dev/spawn.js";
import { REPO_ROOT, runToExit, startService } from "../support/process.js";

const run = promisify(execFile);

const CACHE_KEY = Buffer.alloc(32, 9).toString("base64");
const COLLECTOR_TOKEN = "c0llector-t0ken-never-logged";

test("one start-up line states store, tracing, admin port, limits and upstream, and nothing secret", async () => {
  const service = await startService({
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    ADMIN_PORT: "0",
    TOKEN_CACHE_KEY: CACHE_KEY,
    // Read by the OTLP exporter itself; a collector's token must not reach the line.
    OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318",
    OTEL_EXPORTER_OTLP_HEADERS: `authorization=Bearer ${COLLECTOR_TOKEN}`,
    // Blank, as an env file or a chart leaves an unused variable: unset, for Apollo as for this service.
    APOLLO_KEY: "",
    APOLLO_GRAPH_REF: " ",
  });
  try {
    const ready = service.logs.find((line) => typeof line.port === "number");
    assert.ok(ready !== undefined);
    assert.equal(ready.level, 30, "info");
    assert.equal(typeof ready.adminPort, "number");
    assert.deepEqual(ready.store, { kind: "memory" });
    assert.deepEqual(ready.tracing, {
      exporter: "otlp",
      protocol: "http/protobuf",
      endpoint: "http://127.0.0.1:4318/v1/traces",
      sampler: "parentbased_always_on",
    });
    assert.equal(ready.explorer, "off");
    const limits = ready.limits as Record<string, unknown>;
    assert.equal(limits.bodyBytes, 65_536);
    assert.equal(typeof limits.maxConnections, "number");
    assert.equal((ready.lockout as Record<string, unknown>).threshold, 5);
    assert.equal(ready.upstreamHost, "api.aspose.cloud");
    assert.equal(service.logs.filter((line) => typeof line.port === "number").length, 1, "one line");
  } finally {
    await service.stop();
  }
  const output = service.lines.join("\n");
  for (const secret of [CACHE_KEY, COLLECTOR_TOKEN])
    assert.ok(!output.includes(secret), "a secret was logged");
  assert.doesNotMatch(output, /whitespace/, "Apollo read the blank APOLLO_KEY as a key");
});

/** A loopback port something else already listens on. */
async function busyPort(t: { after: (fn: () => void) => void }): Promise<number> {
  const squatter = createServer();
  squatter.listen(0, "127.0.0.1");
  await once(squatter, "listening");
  t.after(() => squatter.close());
  return (squatter.address() as AddressInfo).port;
}

test("a busy port is one line on stderr and exit 1, not a stack trace", async (t) => {
  const port = await busyPort(t);
  const service = await runToExit({ PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" });
  assert.equal(service.exit.code, 1);
  const lines = service.stderr().trim().split("\n");
  assert.deepEqual(lines, [
    `Cannot listen on 127.0.0.1:${port}: the address is already in use: stop the other process or set PORT.`,
  ]);
});

test("npm run dev on a busy port: the same one line, exit 1, and the fake Aspose stopped with it", async (t) => {
  const port = await busyPort(t);
  const dev = spawnChild({
    command: process.execPath,
    args: ["--import", "tsx", "dev/dev-server.ts"],
    env: { PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" },
  });
  const exit = await dev.exited;
  assert.equal(exit.code, 1);
  assert.deepEqual(dev.stderr().trim().split("\n"), [
    `Cannot listen on 127.0.0.1:${port}: the address is already in use: stop the other process or set PORT.`,
  ]);
});

// The machine's own Node, when it is older than 22, proves the preflight on the Node it refuses.
const OLD_NODE = ["/usr/bin/node", "/usr/local/bin/node"].find((path) => existsSync(path));

test("the preflight refuses Node < 22 with one line", { skip: OLD_NODE === undefined }, async (t) => {
  const { stdout } = await run(OLD_NODE ?? "node", ["-p", "process.versions.node.split('.')[0]"]);
  if (Number(stdout.trim()) >= 22) return t.skip("no Node older than 22 on this machine");
  const refused = await run(OLD_NODE ?? "node", [join(REPO_ROOT, "scripts/preflight.mjs")]).then(
    () => undefined,
    (error: { code: number; stderr: string }) => error,
  );
  assert.equal(refused?.code, 1);
  assert.match(refused?.stderr ?? "", /^aspose-token-subgraph needs Node\.js 22 or newer; this is Node v\d+/);
  assert.equal(refused?.stderr.trim().split("\n").length, 1);
});

test("the preflight passes on this Node, and every entry point runs it first", async () => {
  await run(process.execPath, [join(REPO_ROOT, "scripts/preflight.mjs")]);
  const { scripts, engines } = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
    engines: { node: string };
  };
  assert.equal(engines.node, ">=22");
  for (const name of ["prepare", "prestart", "predev", "pretest"])
    assert.match(scripts[name] ?? "", /^node scripts\/preflight\.mjs/, name);
  // Start runs the build made at install time (prepare); it does not compile.
  assert.equal(scripts.start, "node --env-file-if-exists=.env dist/src/main.js");
  assert.doesNotMatch(scripts.prestart ?? "", /tsc|build/);
  assert.match(scripts.prepare ?? "", /tsc -p tsconfig\.build\.json/);
  assert.match(readFileSync(join(REPO_ROOT, ".npmrc"), "utf8"), /^engine-strict=true$/m);
});

test("npm install is quiet: every dependency's install script is decided in allowScripts", () => {
  const read = (file: string) => JSON.parse(readFileSync(join(REPO_ROOT, file), "utf8"));
  const { allowScripts } = read("package.json") as { allowScripts: Record<string, boolean> };
  const lock = read("package-lock.json") as {
    packages: Record<string, { readonly hasInstallScript?: boolean }>;
  };
  // npm 11 warns of each package with an install script that allowScripts does not mention.
  const withScripts = Object.entries(lock.packages)
    .filter(([, entry]) => entry.hasInstallScript === true)
    .map(([path]) => path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length));
  assert.deepEqual([...new Set(withScripts)].sort(), Object.keys(allowScripts).sort());
  // None is needed: esbuild's checks and optimises its CLI binary (tsx uses its API, which finds the
  // platform package itself); protobufjs's only warns about version ranges.
  assert.deepEqual(Object.values(allowScripts), [false, false, false]);
});
