// Runs before install (prepare), start, dev and test: one clear line instead of a failure that does
// not name its cause. Plain old JavaScript on purpose: it must run on the Node it is refusing.
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
