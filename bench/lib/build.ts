/** Compiles a checkout for benchmarking, so no TypeScript loader runs inside a measured server. */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../settings.js";

/** Compiles `root`'s src/ and bench/servers/ into `root`/dist (with this checkout's TypeScript). */
export function compileForBench(root: string = ROOT): void {
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(root, "bench/tsconfig.json")],
    { cwd: root, stdio: "inherit" },
  );
}
