/**
 * A throwaway redis-server for the probes that measure the service with a shared store: no
 * persistence, a free loopback port, on the bench process's core (it inherits the pinning), stopped
 * with the probe.
 */
import { createConnection, createServer, type Socket } from "node:net";
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

/**
 * A TCP relay in front of `target` that holds every chunk for half of `rttMs` each way, as a network
 * hop to a managed Redis would: a miss's sequential round trips then each cost `rttMs` on top, which
 * no neighbour's noise on this machine can hide. Chunks keep their order (equal delays fire in order).
 */
export async function delayedRelay(target: string, rttMs: number): Promise<BenchRedis> {
  const { hostname, port } = new URL(target);
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = createConnection({ host: hostname, port: Number(port) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
      socket.on("close", () => sockets.delete(socket));
    }
    const relay = (from: Socket, to: Socket) =>
      from.on("data", (chunk) => {
        setTimeout(() => to.write(chunk), rttMs / 2);
      });
    relay(client, upstream);
    relay(upstream, client);
  });
  const listenPort = await freePort();
  await new Promise<void>((resolve) => server.listen(listenPort, "127.0.0.1", resolve));
  return {
    url: `redis://127.0.0.1:${listenPort}`,
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
