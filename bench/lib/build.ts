/** Compiles a checkout for benchmarking, so no TypeScript loader runs inside a measured server. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
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

/** Another commit's build, in a throw-away worktree. */
export interface OtherBuild {
  /** The worktree's root: the build's dist/ is under it. */
  readonly root: string;
  /** Removes the worktree. */
  remove(): void;
}

/** A worktree of `gitRef` with this checkout's node_modules, built for benchmarking. */
export function buildOther(gitRef: string): OtherBuild {
  const root = mkdtempSync(join(tmpdir(), "bench-ab-"));
  execFileSync("git", ["worktree", "add", "--detach", "--force", root, gitRef], {
    cwd: ROOT,
    stdio: "ignore",
  });
  const remove = (): void => {
    execFileSync("git", ["worktree", "remove", "--force", root], { cwd: ROOT, stdio: "ignore" });
    rmSync(root, { recursive: true, force: true });
  };
  try {
    symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
    compileForBench(root);
  } catch (error) {
    remove();
    throw error;
  }
  return { root, remove };
}
