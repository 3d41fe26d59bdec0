/**
 * A server under test in its own process, pinned to the server core, measured from outside through
 * /proc so the measurement itself costs the server nothing.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../dev/ports.js";
import { type Child, spawnChild } from "../../dev/spawn.js";

/** How to start one server under test. */
export interface ServerSpec {
  /** Short id used in logs and profile file names. */
  readonly name: string;
  /** The compiled entry point (JavaScript, so no loader runs inside the measured process). */
  readonly script: string;
  /** The whole environment of the child besides PATH, HOME and TMPDIR: nothing leaks in from the bench's shell. */
  readonly env: Readonly<Record<string, string>>;
  /** GET path that answers 200 once the server is ready. */
  readonly readyPath: string;
  /** The port `readyPath` answers on when it is not the public one (an admin port the env sets). */
  readonly readyPort?: number;
  /** The CPU core to pin to with taskset; undefined runs unpinned. */
  readonly core: number | undefined;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeFlags?: readonly string[];
}

// What bench/servers/gc-on-signal.ts writes to stderr after a collection.
const GC_DONE = "bench:gc-done";

// Clock ticks per second for utime/stime in /proc/<pid>/stat; 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SECOND = 100;

/** A running server child: its origin, and CPU time and RSS read from /proc. */
export class ChildServer {
  readonly name: string;
  readonly origin: string;
  readonly #child: Child;
  #collections = 0;

  private constructor(name: string, origin: string, child: Child) {
    this.name = name;
    this.origin = origin;
    this.#child = child;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** Spawns the server and resolves once its ready path answers 200. */
  static async start(spec: ServerSpec): Promise<ChildServer> {
    const port = await freePort();
    const nodeArgs = [...(spec.nodeFlags ?? []), spec.script];
    const [command, args] =
      spec.core === undefined
        ? [process.execPath, nodeArgs]
        : ["taskset", ["-c", String(spec.core), process.execPath, ...nodeArgs]];
    let server: ChildServer | undefined;
    const child = spawnChild({
      command,
      args,
      env: { ...spec.env, HOST: "127.0.0.1", PORT: String(port) },
      // Logs go to /dev/null through the service's own asynchronous destination: the write syscalls
      // are paid as in production, without a pipe the bench core would have to drain.
      stdout: "discard",
      onStderr: (chunk) => {
        if (server !== undefined) server.#collections += chunk.split(GC_DONE).length - 1;
      },
    });
    server = new ChildServer(spec.name, `http://127.0.0.1:${port}`, child);
    await server.#waitReady(
      spec.readyPort === undefined
        ? `${server.origin}${spec.readyPath}`
        : `http://127.0.0.1:${spec.readyPort}${spec.readyPath}`,
    );
    return server;
  }

  async #waitReady(url: string): Promise<void> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      if (this.#child.hasExited())
        throw new Error(`${this.name} exited with ${(await this.#child.exited).code}: ${this.stderr()}`);
      try {
        const response = await fetch(url);
        await response.arrayBuffer();
        if (response.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await sleep(50);
    }
    await this.stop();
    throw new Error(`${this.name} did not become ready in 30 s: ${this.stderr()}`);
  }

  /**
   * Asks a server started with bench/servers/gc-on-signal.js preloaded for a full GC and waits for it.
   */
  async collectGarbage(timeoutMs = 30_000): Promise<void> {
    const before = this.#collections;
    process.kill(this.pid, "SIGUSR2");
    const deadline = Date.now() + timeoutMs;
    while (this.#collections === before) {
      if (Date.now() > deadline) throw new Error(`${this.name}: no GC within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  /** The child's stderr tail, for diagnostics. */
  stderr(): string {
    return this.#child.stderr().slice(-4000);
  }

  /** User + system CPU seconds the process has used so far, all threads included. */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    // The command name may contain spaces: fields are counted from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return (utime + stime) / CLOCK_TICKS_PER_SECOND;
  }

  /** Resolves once the server has used (almost) no CPU for `quietMs`: everything sent has been read. */
  async waitIdle(quietMs = 200, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = this.cpuSeconds();
    while (Date.now() < deadline) {
      await sleep(quietMs);
      const now = this.cpuSeconds();
      // One clock tick (10 ms) of slack for timers and the metrics' event-loop monitor.
      if (now - last <= 1 / CLOCK_TICKS_PER_SECOND) return;
      last = now;
    }
    throw new Error(`${this.name} did not go idle within ${timeoutMs} ms`);
  }

  /** Resident set size in bytes. */
  rssBytes(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
    return match?.[1] === undefined ? Number.NaN : Number(match[1]) * 1024;
  }

  /** SIGTERM, then SIGKILL if the server has not exited within `graceMs`; resolves with the exit code. */
  async stop(graceMs = 15_000): Promise<number | null> {
    return (await this.#child.stop(graceMs)).code;
  }
}
