/**
 * Runs the real service as a child process (`node --import tsx src/main.ts`), exactly as an
 * orchestrator would, and reads its JSON log lines from stdout to learn when it is ready and on which
 * port. Tests await log lines and exit events; nothing here sleeps.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root: the child runs from here so `src/main.ts` finds `schema/`. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** One parsed JSON log line from the child's stdout. */
export type LogLine = Record<string, unknown> & { readonly msg?: string; readonly level?: number };

/** How the child ended. */
export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** performance.now() when the exit was observed. */
  readonly at: number;
}

/** A started (or starting) service process. */
export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Every JSON line written to stdout, parsed, in order. */
  readonly logs: LogLine[];
  /** Raw stdout lines that were not JSON (there should be none). */
  readonly strayStdout: string[];
  /** Everything written to stderr. */
  stderr(): string;
  /** Resolves with the first log line (already written or still to come) that matches. */
  waitForLog(predicate: (line: LogLine) => boolean, description: string): Promise<LogLine>;
  /** Resolves when the process has exited and its output streams are drained. */
  readonly exited: Promise<Exit>;
  /** SIGKILLs the process if it is still running (for after-hooks). */
  kill(): Promise<void>;
}

/** A service process that logged its ready line. */
export interface ReadyService extends ServiceProcess {
  readonly port: number;
  readonly origin: string;
}

// Only what node and tsx need from the parent: the service must see exactly the variables the test
// chose, never a developer's APOLLO_KEY or REDIS_URL from the surrounding shell.
function baseEnvironment(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "SYSTEMROOT"]) {
    const value = process.env[name];
    if (value !== undefined) env[name] = value;
  }
  return env;
}

/** Spawns `node --import tsx src/main.ts` with the given environment (plus PATH/HOME/TMPDIR only). */
export function spawnService(env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: REPO_ROOT,
    env: { ...baseEnvironment(), ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: LogLine[] = [];
  const strayStdout: string[] = [];
  const stderrChunks: string[] = [];
  const watchers = new Set<{ test: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();

  const stdout = child.stdout;
  const stderr = child.stderr;
  if (stdout === null || stderr === null) throw new Error("child stdio must be piped");
  stderr.setEncoding("utf8");
  stderr.on("data", (chunk: string) => stderrChunks.push(chunk));
  const lines = createInterface({ input: stdout, crlfDelay: Number.POSITIVE_INFINITY });
  lines.on("line", (text) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      strayStdout.push(text);
      return;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
      strayStdout.push(text);
      return;
    }
    const line: LogLine = Object.fromEntries(Object.entries(parsed));
    logs.push(line);
    for (const watcher of watchers) {
      if (watcher.test(line)) {
        watchers.delete(watcher);
        watcher.resolve(line);
      }
    }
  });

  const exited = (async (): Promise<Exit> => {
    const [code, signal] = (await once(child, "exit")) as [number | null, NodeJS.Signals | null];
    const at = performance.now();
    // "exit" can come before the pipes are drained: wait for both so no line is lost.
    await Promise.all([
      stdout.readableEnded ? undefined : once(stdout, "end"),
      stderr.readableEnded ? undefined : once(stderr, "end"),
    ]);
    return { code, signal, at };
  })();

  return {
    child,
    logs,
    strayStdout,
    stderr: () => stderrChunks.join(""),
    exited,
    waitForLog(predicate, description) {
      const seen = logs.find(predicate);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise<LogLine>((resolve, reject) => {
        const watcher = { test: predicate, resolve };
        watchers.add(watcher);
        void exited.then((exit) => {
          if (!watchers.delete(watcher)) return;
          reject(
            new Error(
              `service exited (code ${exit.code}, signal ${exit.signal}) before logging ${description}; ` +
                `stderr: ${stderrChunks.join("").slice(0, 2000)}`,
            ),
          );
        });
      });
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** Spawns the service with PORT=0 and resolves once its ready line names the port it bound. */
export async function startService(env: Record<string, string>): Promise<ReadyService> {
  const service = spawnService({ PORT: "0", HOST: "127.0.0.1", ...env });
  try {
    const ready = await service.waitForLog(
      (line) => typeof line.port === "number" && typeof line.msg === "string" && line.msg.includes("ready"),
      "its ready line",
    );
    const port = Number(ready.port);
    return { ...service, port, origin: `http://127.0.0.1:${port}` };
  } catch (error) {
    await service.kill();
    throw error;
  }
}

/** Runs the service to completion (for start-up failures): its exit and output. */
export async function runToExit(env: Record<string, string>): Promise<ServiceProcess & { exit: Exit }> {
  const service = spawnService({ PORT: "0", HOST: "127.0.0.1", ...env });
  const exit = await service.exited;
  return { ...service, exit };
}
