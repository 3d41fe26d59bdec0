import { fstatSync, openSync } from "node:fs";
import { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "../config/index.js";
import { LOG_REDACT_PATHS } from "./redact.js";

/** Structured JSON logs with secrets redacted by path, wherever a careless call might put them. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "aspose-token-subgraph" },
    redact: { paths: [...LOG_REDACT_PATHS], censor: "[REDACTED]" },
    // Serialise errors without their own enumerable properties (a got error carries its options,
    // form body included).
    serializers: { err: errorSerializer },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

function errorSerializer(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  return {
    type: error.name,
    message: error.message.slice(0, 500),
    code: "code" in error && typeof error.code === "string" ? error.code : undefined,
    stack: error.stack?.split("\n").slice(0, 8).join("\n"),
  };
}

/** Where the process's log lines go: stdout, buffered, and never able to hold the process hostage. */
export interface LogDestination {
  readonly stream: DestinationStream;
  /** Hands buffered lines to the operating system now, without waiting. */
  flush(): void;
  /**
   * The last call before exit: resolves true once every line is written, false when stdout is broken
   * (its reader gone) or `timeoutMs` passed first (its reader stuck). Never blocks the event loop,
   * never throws.
   */
  finish(timeoutMs: number): Promise<boolean>;
}

// One write per 4 KiB of lines keeps the request path off the collector's speed (measured earlier).
const MIN_WRITE_LENGTH = 4096;
// A stuck reader costs log lines, not memory: past this much queued output new lines are dropped.
const MAX_QUEUED_BYTES = 8 * 1024 * 1024;

/**
 * Log lines to stdout. When stdout is a pipe or a socket (a collector, `| head`), it is written
 * through a non-blocking socket handle: a reader that is gone shows up as an error that turns
 * logging off, and a reader that is stuck only queues lines, so neither can stall a shutdown.
 * pino's own destination loops in `flushSync()` on a broken pipe (EPIPE is retried forever) and
 * flushes synchronously at exit, which kept SIGTERM from ever ending the process.
 * A file or a terminal keeps pino's buffered destination: neither breaks that way.
 */
export function stdoutDestination(): LogDestination {
  return descriptorDestination(1);
}

/** Log lines to stderr, as stdoutDestination writes stdout (the audit log's `AUDIT_LOG=stderr`). */
export function stderrDestination(): LogDestination {
  return descriptorDestination(2);
}

/**
 * Log lines appended to a file, created with mode 0600 (audit lines name clients and addresses).
 * Opened here, synchronously, so a path that cannot be written stops start-up instead of losing lines.
 */
export function fileDestination(path: string): LogDestination {
  return bufferedDestination(openSync(path, "a", 0o600));
}

function descriptorDestination(fd: 1 | 2): LogDestination {
  const stat = fstatSync(fd);
  if (stat.isFIFO() || stat.isSocket()) return socketDestination(new Socket({ fd, readable: false }));
  return bufferedDestination(fd);
}

function bufferedDestination(fd: number): LogDestination {
  const destination = pino.destination({ fd, sync: false, minLength: MIN_WRITE_LENGTH });
  return {
    stream: destination,
    flush: () => destination.flush(),
    finish: (timeoutMs) =>
      Promise.race([
        new Promise<boolean>((resolve) => destination.flush((error) => resolve(error == null))),
        delay(timeoutMs, false, { ref: false }),
      ]),
  };
}

function socketDestination(socket: Socket): LogDestination {
  let pending: string[] = [];
  let pendingLength = 0;
  let broken = false;
  socket.on("error", () => {
    broken = true;
    pending = [];
  });
  const flush = (): void => {
    if (broken || socket.writableEnded || pending.length === 0) return;
    socket.write(pending.join(""));
    pending = [];
    pendingLength = 0;
  };
  return {
    stream: {
      write(line: string) {
        if (broken || socket.writableEnded || socket.writableLength + pendingLength > MAX_QUEUED_BYTES)
          return;
        pending.push(line);
        pendingLength += line.length;
        if (pendingLength >= MIN_WRITE_LENGTH) flush();
      },
    },
    flush,
    finish(timeoutMs) {
      flush();
      if (broken) return Promise.resolve(false);
      const written = new Promise<boolean>((resolve) => {
        socket.once("finish", () => resolve(!broken));
        socket.once("error", () => resolve(false));
      });
      // Lines logged after this (there should be none) meet an ended stream: dropped, not thrown.
      socket.end();
      return Promise.race([written, delay(timeoutMs, false, { ref: false })]);
    },
  };
}
