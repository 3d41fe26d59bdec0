/**
 * The one child-process spawner, shared by the tests (the service from source, throwaway Redis
 * servers) and the benchmarks (the compiled service and its baselines): a clean environment, stdout
 * read line by line (JSON lines parsed as log lines) or discarded, stderr kept, the exit awaited with
 * the pipes drained, and a stop that escalates from SIGTERM to SIGKILL. Callers await lines and exit
 * events; nothing here sleeps.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { closeSync, openSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root: children run from here so `src/main.ts` finds `schema/`. */
export const REPO_ROOT = fileURLToPath(new URL("..", import.meta.url));

/** One parsed JSON log line from a child's stdout. */
export type LogLine = Record<string, unknown> & { readonly msg?: string; readonly level?: number };

/** How a child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() when the exit was observed. */
  readonly at: number;
}

/** What to run and how to treat its output. */
export interface ChildSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** The child's environment on top of PATH, HOME and TMPDIR: nothing else leaks in from the parent. */
  readonly env: Readonly<Record<string, string>>;
  /** Defaults to the repository root. */
  readonly cwd?: string;
  /**
   * "lines" (the default) reads stdout line by line; "discard" sends it to /dev/null, so a measured
   * server pays its write syscalls as in production without a pipe for the parent to drain.
   */
  readonly stdout?: "lines" | "discard";
  /** Called with every chunk of stderr as it arrives. */
  readonly onStderr?: (chunk: string) => void;
}

/** A started child. */
export interface Child {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Every stdout line that was a JSON object, parsed, in order. */
  readonly logs: LogLine[];
  /** Stdout lines that were not JSON objects. */
  readonly strayStdout: string[];
  /** Every stdout and stderr line, raw, in arrival order. */
  readonly lines: string[];
  /** Everything written to stderr. */
  stderr(): string;
  /** Resolves when the child has exited and its output streams are drained. */
  readonly exited: Promise<Exit>;
  /** True once the exit has been observed. */
  hasExited(): boolean;
  /** Resolves with the first raw line (already written or still to come) that matches. */
  waitForLine(predicate: (line: string) => boolean, description: string, timeoutMs?: number): Promise<string>;
  /** Resolves with the first JSON log line (already written or still to come) that matches. */
  waitForLog(
    predicate: (line: LogLine) => boolean,
    description: string,
    timeoutMs?: number,
  ): Promise<LogLine>;
  /** SIGTERM, then SIGKILL if the child has not exited within `graceMs`. */
  stop(graceMs?: number): Promise<Exit>;
  /** SIGKILL if still running (for after-hooks and crash simulations). */
  kill(): Promise<Exit>;
}

/** PATH, HOME and TMPDIR (SYSTEMROOT on Windows) from the parent: what node, tsx and taskset need. */
export function cleanEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

function parseLogLine(text: string): LogLine | undefined {
  if (!text.startsWith("{")) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return undefined;
    return Object.fromEntries(Object.entries(parsed));
  } catch {
    return undefined;
  }
}

/** Spawns `spec` and starts reading its output. */
export function spawnChild(spec: ChildSpec): Child {
  const discard = spec.stdout === "discard";
  const devNull = discard ? openSync("/dev/null", "w") : undefined;
  const child = spawn(spec.command, [...spec.args], {
    cwd: spec.cwd ?? REPO_ROOT,
    env: { ...cleanEnvironment(), ...spec.env },
    stdio: ["ignore", devNull ?? "pipe", "pipe"],
  });
  if (devNull !== undefined) closeSync(devNull);
  if (child.pid === undefined) throw new Error(`spawning ${spec.command} failed`);
  const stderr = child.stderr;
  if (stderr === null) throw new Error("child stderr must be piped");

  const logs: LogLine[] = [];
  const strayStdout: string[] = [];
  const lines: string[] = [];
  const stderrChunks: string[] = [];
  const watchers = new Set<(line: string) => void>();
  const seen = (text: string): void => {
    lines.push(text);
    for (const watcher of watchers) watcher(text);
  };

  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => {
    stderrChunks.push(chunk);
    spec.onStderr?.(chunk);
  });
  createInterface({ input: stderr, crlfDelay: Number.POSITIVE_INFINITY }).on("line", seen);
  const stdout = child.stdout;
  if (stdout !== null) {
    createInterface({ input: stdout, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (text) => {
      const line = parseLogLine(text);
      if (line === undefined) strayStdout.push(text);
      else logs.push(line);
      seen(text);
    });
  }

  let exitedAlready = false;
  const exited = (async (): Promise<Exit> => {
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    const at = performance.now();
    exitedAlready = true;
    // "exit" can come before the pipes are drained: wait for them so no line is lost.
    await Promise.all(
      [stdout, stderr].map((stream) =>
        stream === null || stream.readableEnded ? undefined : once(stream, "end"),
      ),
    );
    return { code, signal, at };
  })();

  const waitForLine = (
    predicate: (line: string) => boolean,
    description: string,
    timeoutMs = Number.POSITIVE_INFINITY,
  ): Promise<string> => {
    const found = lines.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise<string>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        watchers.delete(watcher);
        clearTimeout(timer);
      };
      const watcher = (line: string): void => {
        if (!predicate(line)) return;
        done();
        resolve(line);
      };
      const fail = (why: string): void => {
        if (!watchers.has(watcher)) return;
        done();
        reject(
          new Error(`${spec.command} ${why} before writing ${description}; output:\n${lines.join("\n")}`),
        );
      };
      watchers.add(watcher);
      if (Number.isFinite(timeoutMs)) timer = setTimeout(() => fail(`took over ${timeoutMs} ms`), timeoutMs);
      void exited.then((exit) => fail(`exited (code ${exit.code}, signal ${exit.signal})`));
    });
  };

  const kill = async (): Promise<Exit> => {
    if (!exitedAlready) child.kill("SIGKILL");
    return exited;
  };

  return {
    child,
    pid: child.pid,
    logs,
    strayStdout,
    lines,
    stderr: () => stderrChunks.join(""),
    exited,
    hasExited: () => exitedAlready,
    waitForLine,
    async waitForLog(predicate, description, timeoutMs) {
      const text = await waitForLine(
        (raw) => {
          const line = parseLogLine(raw);
          return line !== undefined && predicate(line);
        },
        description,
        timeoutMs,
      );
      return parseLogLine(text) ?? {};
    },
    async stop(graceMs = 10_000) {
      if (exitedAlready) return exited;
      child.kill("SIGTERM");
      const timer = setTimeout(() => {
        if (!exitedAlready) child.kill("SIGKILL");
      }, graceMs);
      const exit = await exited;
      clearTimeout(timer);
      return exit;
    },
    kill,
  };
}
