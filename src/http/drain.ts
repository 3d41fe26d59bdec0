/**
 * How an HTTP server stops: it stops accepting, lets in-flight requests finish up to a deadline, then
 * answers those still waiting with a coded 503 (SHUTTING_DOWN) instead of resetting them, and closes
 * what is left. Keep-alive connections close as their in-flight request finishes (answers carry
 * `Connection: close` once draining, and each answered connection is closed once idle).
 */
import type { Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import { HttpCode } from "../errors.js";
import { jsonError, type Reply } from "./exchange.js";

/** A server and a way to stop it cleanly. */
export interface HttpEdge {
  readonly server: Server;
  /**
   * Stops accepting and drains (see this module); resolves with how many requests were cut: answered
   * SHUTTING_DOWN at the deadline, or, when none was waiting, 1 for connections still open then.
   */
  drain(deadlineMs: number): Promise<number>;
  /** Stops at once, cutting whatever is open (the admin port, once the public port has drained). */
  close(): Promise<void>;
}

/** What draining needs of the server: its requests still waiting, each with the way to answer it. */
export interface Draining {
  readonly server: Server;
  readonly pending: ReadonlyMap<ServerResponse, (reply: Reply) => void>;
  /** Closes the connections that have not sent a byte (see silentConnections). */
  readonly closeSilent: () => void;
  readonly logger: Logger;
}

/**
 * Keeps the server's open connections so draining can close those that have not sent a byte: they
 * carry no request to finish, and `closeIdleConnections()` leaves them open (Node counts a connection
 * idle only between requests), so a browser's preconnect or a silent client held shutdown until the
 * head timeout or the deadline. A TLS connection that finished its handshake has sent bytes: it waits
 * for REQUEST_HEADERS_TIMEOUT_MS like any slow head.
 */
export function silentConnections(server: Server): () => void {
  const open = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    open.add(socket);
    socket.once("close", () => open.delete(socket));
  });
  return () => {
    for (const socket of open) if (socket.bytesRead === 0) socket.destroy();
  };
}

/** How long the coded answers to cut requests get to be written before their connections are closed. */
const ANSWER_GRACE_MS = 1000;

const SHUTTING_DOWN = jsonError(
  503,
  HttpCode.SHUTTING_DOWN,
  "The service is shutting down. Retry the request.",
);

/** Stops `server` at once, cutting whatever is open. */
export function closeServer(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

/** Drains `server` (see this module); resolves with the number of requests cut. */
export async function drainServer(draining: Draining, deadlineMs: number): Promise<number> {
  const { server, logger } = draining;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  draining.closeSilent();
  // close() has released the listening socket: from here new connections are refused. Logged so an
  // operator (and the process tests) can tell draining from hanging.
  logger.info({ deadlineMs }, "Stopped accepting connections; draining in-flight requests");
  const outcome = await Promise.race([
    closed.then(() => "closed" as const),
    delay(deadlineMs, "deadline" as const, { ref: false }),
  ]);
  if (outcome === "closed") return 0;
  // A request still waiting (on a hung upstream, say) gets a coded answer, not a reset.
  const answered = await Promise.race([
    answerPending(draining.pending),
    delay(ANSWER_GRACE_MS, undefined, { ref: false }),
  ]);
  logger.warn({ deadlineMs, answered }, "Shutdown deadline reached: closing remaining connections");
  server.closeAllConnections();
  await closed;
  // Something was still open past the deadline: a request answered SHUTTING_DOWN, or a connection
  // (an answer still being written, a streamed response) about to be cut.
  return Math.max(answered ?? 0, 1);
}

/**
 * Answers every request whose handler has not answered yet with SHUTTING_DOWN (the handler's own
 * answer, when it comes, is dropped); resolves with how many, once their answers are written or their
 * connections gone.
 */
function answerPending(pending: Draining["pending"]): Promise<number> {
  const answering = [...pending];
  const written = answering.map(([response, settle]) => {
    const done =
      response.writableFinished || response.destroyed
        ? Promise.resolve()
        : new Promise<void>((resolve) => response.once("close", () => resolve()));
    settle(SHUTTING_DOWN);
    return done;
  });
  return Promise.all(written).then(() => answering.length);
}
