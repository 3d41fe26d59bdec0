/**
 * Runs the real service as a child process (`node --import tsx src/main.ts`), exactly as an
 * orchestrator would, and reads its JSON log lines from stdout to learn when it is ready and on which
 * port. Tests await log lines and exit events; nothing here sleeps.
 */
import { FakeAspose } from "../../dev/fake-aspose.js";
import { type Child, type Exit, type LogLine, REPO_ROOT, spawnChild } from "../../dev/spawn.js";
import { CLIENT_ID, CLIENT_SECRET } from "./harness.js";

export { type Exit, type LogLine, REPO_ROOT };

/** A started (or starting) service process. */
export type ServiceProcess = Child;

/** A service process that logged its ready line. */
export interface ReadyService extends ServiceProcess {
  readonly port: number;
  readonly origin: string;
}

/**
 * Spawns `node --import tsx src/main.ts` with the given environment (plus PATH/HOME/TMPDIR only): the
 * service sees exactly the variables the test chose, never a developer's APOLLO_KEY or REDIS_URL.
 * `nodeFlags` go before the script (e.g. `--env-file=…`).
 */
export function spawnService(env: Record<string, string>, nodeFlags: readonly string[] = []): ServiceProcess {
  return spawnChild({
    command: process.execPath,
    args: [...nodeFlags, "--import", "tsx", "src/main.ts"],
    env: { PORT: "0", HOST: "127.0.0.1", ...env },
  });
}

/**
 * Spawns the service with PORT=0 and resolves once its ready line names the port it bound. The ready
 * line is found by its `port` field only, so a change to its message or other fields breaks nothing.
 */
export async function startService(
  env: Record<string, string>,
  readyTimeoutMs = 20_000,
  nodeFlags: readonly string[] = [],
): Promise<ReadyService> {
  const service = spawnService(env, nodeFlags);
  try {
    const ready = await service.waitForLog(
      (line) => typeof line.port === "number" && Number.isInteger(line.port) && line.port > 0,
      "its ready line",
      readyTimeoutMs,
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
  const service = spawnService(env);
  const exit = await service.exited;
  return { ...service, exit };
}

/** A fake Aspose knowing the harness's client, closed when the test ends. */
export async function startFake(t: { after: (fn: () => Promise<void>) => void }): Promise<FakeAspose> {
  const fake = await FakeAspose.start({ clients: { [CLIENT_ID]: CLIENT_SECRET } });
  t.after(() => fake.close());
  return fake;
}

/** The env every started service gets: the fake upstream, generous upstream timeouts, JSON info logs. */
export function serviceEnv(fake: FakeAspose, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: "production",
    LOG_LEVEL: "info",
    ASPOSE_BASE_URL: fake.url,
    // Long upstream timeouts, so only the shutdown logic can end a held or hung request.
    ASPOSE_TIMEOUT_MS: "60000",
    ASPOSE_TOTAL_TIMEOUT_MS: "120000",
    ASPOSE_RETRY_LIMIT: "0",
    ...overrides,
  };
}
