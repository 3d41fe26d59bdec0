/** Which core the servers under test get, and which the bench process (load, fake upstreams) keeps. */
import { execFileSync } from "node:child_process";
import { availableParallelism } from "node:os";

export interface Placement {
  readonly serverCore: number | undefined;
  /** Cores visible before this process pinned itself. */
  readonly cores: number;
  readonly note: string;
}

/** Pins this process (autocannon and the fake upstreams) to core 1, leaving core 0 to the server. */
export function placeProcesses(): Placement {
  const cores = availableParallelism();
  let taskset = false;
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
    taskset = true;
  } catch {
    taskset = false;
  }
  if (!taskset || cores < 2)
    return { serverCore: undefined, cores, note: `unpinned (${taskset ? `${cores} core` : "no taskset"})` };
  // -a: every thread, libuv's pool and V8's helpers included; threads made later inherit it.
  execFileSync("taskset", ["-a", "-p", "-c", "1", String(process.pid)], { stdio: "ignore" });
  return { serverCore: 0, cores, note: "servers on core 0; load generator and fake upstream on core 1" };
}
