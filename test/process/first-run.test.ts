/**
 * A first run without surprises: a busy port is one clear line and a non-zero exit, and an old Node
 * is refused by the preflight with one line naming the version (it runs before install's build,
 * start, dev and test).
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
import { REPO_ROOT, runToExit } from "../support/process.js";

const run = promisify(execFile);

test("a busy port is one line on stderr and exit 1, not a stack trace", async () => {
  const squatter = createServer();
  squatter.listen(0, "127.0.0.1");
  await once(squatter, "listening");
  const { port } = squatter.address() as AddressInfo;
  try {
    const service = await runToExit({ PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn" });
    assert.equal(service.exit.code, 1);
    const lines = service.stderr().trim().split("\n");
    assert.deepEqual(lines, [
      `Cannot listen on 127.0.0.1:${port}: the address is already in use: stop the other process or set PORT.`,
    ]);
  } finally {
    squatter.close();
  }
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
  assert.equal(scripts.start, "node dist/src/main.js");
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
