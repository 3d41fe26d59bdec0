/**
 * `npm start` and `npm run dev` read a `.env` in the working directory when there is one (Node's own
 * --env-file-if-exists), the environment wins over the file, and without the file nothing changes.
 * Run through npm itself, from a directory that holds the project by symlinks, so a developer's own
 * .env is never touched. npm does not pass SIGTERM on to the script, so the tests stop the service
 * process itself, as an orchestrator running `node` directly would.
 */
import assert from "node:assert/strict";
import {
  copyFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { freePort } from "../../dev/ports.js";
import { type Child, REPO_ROOT, spawnChild } from "../../dev/spawn.js";
import { startFake } from "../support/process.js";

const PROCESS_TEST = { timeout: 60_000 };

/** A directory npm treats as the project: package.json and .npmrc copied, the rest linked. */
function projectCopy(t: { after: (fn: () => void) => void }, dotEnv: string | undefined): string {
  const dir = mkdtempSync(join(tmpdir(), "aspose-token-subgraph-env-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const file of ["package.json", ".npmrc"]) copyFileSync(join(REPO_ROOT, file), join(dir, file));
  for (const entry of ["dist", "dev", "node_modules", "schema", "scripts", "src", "tsconfig.json"])
    symlinkSync(join(REPO_ROOT, entry), join(dir, entry));
  if (dotEnv !== undefined) writeFileSync(join(dir, ".env"), dotEnv);
  return dir;
}

/** The process ids below `pid`, deepest last (npm → sh → node). */
function descendants(pid: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The parent id is the field after the parenthesised command name, which may hold spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = [];
  let level = [pid];
  while (level.length > 0) {
    level = [...parents].filter(([, parent]) => level.includes(parent)).map(([child]) => child);
    found.push(...level);
  }
  return found;
}

/** Runs `npm <args>` in `cwd`; stops the service under it with SIGTERM when the test ends. */
function npm(
  t: { after: (fn: () => Promise<unknown>) => void },
  args: string[],
  cwd: string,
  env: Record<string, string>,
): Child {
  const child = spawnChild({ command: "npm", args, cwd, env });
  t.after(async () => {
    for (const pid of descendants(child.pid).reverse()) {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
    }
    await child.stop(5_000);
  });
  return child;
}

test(
  "npm start reads .env from the working directory, and the environment wins over it",
  PROCESS_TEST,
  async (t) => {
    const fake = await startFake(t);
    const port = await freePort();
    const dir = projectCopy(
      t,
      `# a comment line\nPORT=${port}\nHOST=127.0.0.1\nASPOSE_BASE_URL=http://127.0.0.1:9\nLOG_LEVEL=info\n`,
    );
    const service = npm(t, ["start"], dir, { ASPOSE_BASE_URL: fake.url });
    const ready = await service.waitForLog((line) => typeof line.port === "number", "its ready line", 30_000);
    assert.equal(ready.port, port, "PORT from .env");
    assert.equal(
      ready.tokenUrl,
      `${fake.url}/v4.0/cells/connect/token`,
      "ASPOSE_BASE_URL from the environment, not .env",
    );
  },
);

test("without a .env, npm start starts as before", PROCESS_TEST, async (t) => {
  const dir = projectCopy(t, undefined);
  const service = npm(t, ["start"], dir, { PORT: "0", HOST: "127.0.0.1" });
  const ready = await service.waitForLog((line) => typeof line.port === "number", "its ready line", 30_000);
  assert.ok(Number(ready.port) > 0);
});

test("npm run dev reads .env too", PROCESS_TEST, async (t) => {
  const port = await freePort();
  const dir = projectCopy(t, `PORT=${port}\nHOST=127.0.0.1\n`);
  const dev = npm(t, ["run", "dev"], dir, {});
  await dev.waitForLog(
    (line) => typeof line.msg === "string" && line.msg.includes(`:${port}/graphql`),
    "the dev server's line",
    30_000,
  );
});
