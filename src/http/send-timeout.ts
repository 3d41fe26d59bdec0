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

/** Watches the connections it is given while `server` listens; `onCut` is called for each one closed. */
export class SendWatch {
  readonly #sending = new Map<Socket, Sending>();
  readonly #timeoutMs: number;
  readonly #onCut: () => void;

  constructor(server: Server, timeoutMs: number, onCut: () => void) {
    this.#timeoutMs = timeoutMs;
    this.#onCut = onCut;
    // Checked four times per timeout (at most once a second): a connection is closed within a quarter
    // of the timeout past it, as node:http's own connection checks do.
    const intervalMs = Math.min(1000, Math.max(25, Math.floor(timeoutMs / 4)));
    let timer: NodeJS.Timeout | undefined;
    server.on("listening", () => {
      timer ??= setInterval(() => this.#check(), intervalMs).unref();
    });
    server.on("close", () => {
      clearInterval(timer);
      timer = undefined;
    });
  }

  /**
   * Watches the socket a request came on (with TLS, the TLS socket: the one answers are written to),
   * from its first request until it closes.
   */
  watch(socket: Socket): void {
    if (this.#sending.has(socket) || socket.destroyed) return;
    this.#sending.set(socket, { waiting: 0, since: performance.now() });
    socket.once("close", () => this.#sending.delete(socket));
  }

  #check(): void {
    const now = performance.now();
    for (const [socket, sending] of this.#sending) {
      const waiting = socket.writableLength;
      // Nothing waiting, or less than before: the client is reading.
      if (waiting === 0 || waiting < sending.waiting) {
        sending.waiting = waiting;
        sending.since = now;
        continue;
      }
      sending.waiting = waiting;
      if (now - sending.since < this.#timeoutMs) continue;
      this.#sending.delete(socket);
      socket.destroy();
      this.#onCut();
    }
  }
}
