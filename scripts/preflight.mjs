// Runs before install (prepare), start, dev and test: one clear line instead of a failure that does
// not name its cause. Plain old JavaScript on purpose: it must run on the Node it is refusing.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

var REQUIRED_MAJOR = 22;
var major = Number(process.versions.node.split(".")[0]);
if (!(major >= REQUIRED_MAJOR)) {
  process.stderr.write(
    "aspose-token-subgraph needs Node.js " +
      REQUIRED_MAJOR +
      " or newer; this is Node " +
      process.version +
      ". Install Node 24 LTS (e.g. `nvm install 24`) and run the command again.\n",
  );
  process.exit(1);
}

// `preflight.mjs --built` (prestart): the build made at install time must be there.
if (process.argv[2] === "--built" && !existsSync(new URL("../dist/src/main.js", import.meta.url))) {
  process.stderr.write(
    "No build found at dist/src/main.js: run `npm run build` (npm install runs it too).\n",
  );
  process.exit(1);
}

// `preflight.mjs --test` (pretest): the shared-store tests start their own Redis servers from the
// redis-server binary; without it they would fail one by one with a spawn error.
var probe =
  process.argv[2] === "--test" ? spawnSync("redis-server", ["--version"], { encoding: "utf8" }) : undefined;
var found = probe && /v=(\d+)\./.exec(probe.stdout || "");
if (probe) {
  if (probe.error || !found || Number(found[1]) < 7) {
    process.stderr.write(
      "npm test starts its own Redis from the redis-server binary (Redis >= 7.0), which is " +
        (probe.error ? "not installed" : "too old") +
        ": apt-get install redis-server\n",
    );
    process.exit(1);
  }
}
