/**
 * Loopback ports for tests and benchmarks: one to give something they start themselves, and whether
 * one accepts connections.
 */
import { connect, createServer } from "node:net";

/** A port free right now on 127.0.0.1 (another binder may take it before the caller does: rare, accepted). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** Resolves when a TCP connection to the port is accepted, rejects with the socket error otherwise. */
export function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("error", reject);
  });
}
