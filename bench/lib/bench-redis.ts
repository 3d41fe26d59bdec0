/**
 * A throwaway redis-server for the probes that measure the service with a shared store: no
 * persistence, a free loopback port, on the bench process's core (it inherits the pinning), stopped
 * with the probe.
 */
import { createConnection } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../dev/ports.js";
import { type Child, spawnChild } from "../../dev/spawn.js";

/** A running Redis: its URL and how to stop it. */
export interface BenchRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts redis-server and resolves once it answers PING. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const child: Child = spawnChild({
    command: "redis-server",
    args: ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    env: {},
    stdout: "discard",
  });
  const deadline = Date.now() + 10_000;
  while (!(await answersPing(port))) {
    if (child.hasExited() || Date.now() > deadline) {
      await child.stop();
      throw new Error(`redis-server did not start (is it installed?): ${child.stderr().slice(-500)}`);
    }
    await sleep(50);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await child.stop();
    },
  };
}

function answersPing(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port });
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once("error", () => resolve(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.once("data", (data) => {
      socket.destroy();
      resolve(data.toString().startsWith("+PONG"));
    });
  });
}
