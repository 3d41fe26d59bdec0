/**
 * Closes connections whose client takes none of its answers. An answer is handed to the system's
 * socket buffers at once while they have room; once a client has stopped reading and they are full,
 * the answer waits in the process (the socket's writableLength), and nothing else ever ends that
 * connection: node:http's timeouts cover receiving a request, not sending its answer. A connection
 * whose waiting answers have not shrunk for `timeoutMs` is closed, and its answers dropped.
 */
import type { Server } from "node:http";
import type { Socket } from "node:net";

/** What a connection had waiting at the last check, and since when it has made no progress. */
interface Sending {
  waiting: number;
  since: number;
}

/** Watches `server`'s connections while it listens; `onCut` is called for each one closed. */
export function closeUnreadConnections(server: Server, timeoutMs: number, onCut: () => void): OpenCount {
  const open = new Map<Socket, Sending>();
  server.on("connection", (socket: Socket) => {
    if (socket.destroyed) return;
    open.set(socket, { waiting: 0, since: performance.now() });
    socket.once("close", () => open.delete(socket));
  });
  const check = (): void => {
    const now = performance.now();
    for (const [socket, sending] of open) {
      const waiting = socket.writableLength;
      // Nothing waiting, or less than before: the client is reading.
      if (waiting === 0 || waiting < sending.waiting) {
        sending.waiting = waiting;
        sending.since = now;
        continue;
      }
      sending.waiting = waiting;
      if (now - sending.since < timeoutMs) continue;
      open.delete(socket);
      socket.destroy();
      onCut();
    }
  };
  // Checked four times per timeout (at most once a second): a connection is closed within a quarter of
  // the timeout past it, as node:http's own connection checks do.
  const intervalMs = Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4)));
  let timer: NodeJS.Timeout | undefined;
  server.on("listening", () => {
    timer ??= setInterval(check, intervalMs).unref();
  });
  server.on("close", () => {
    clearInterval(timer);
    timer = undefined;
  });
  return () => open.size;
}

/** How many connections are open now. */
export type OpenCount = () => number;
