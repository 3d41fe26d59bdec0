/**
 * TLS on the public port: the server factory that makes it an HTTPS server, and the reload that puts
 * new files in use without a restart, when they change on disk (a renewed certificate, a Kubernetes
 * secret's atomic swap) or on SIGHUP. Connections already open keep the certificate they met.
 */
import { EventEmitter } from "node:events";
import { type FSWatcher, readFileSync, watch } from "node:fs";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { dirname } from "node:path";
import type { SecureContextOptions } from "node:tls";
import type { Logger } from "pino";
import type { TlsFiles } from "../config/index.js";
import type { ServerFactory } from "./server.js";

/** Why the files were read again. */
export type ReloadCause = "change" | "signal";

/** The TLS of the public port. Emits `reload` with `{ loaded, cause }` after each reload attempt. */
export interface TlsListener extends EventEmitter {
  /** Makes the HTTPS server (for createHttpServer's `serverFactory`). */
  readonly serverFactory: ServerFactory;
  /** Reads the files again and uses them for new connections; false when they do not load (the old stay). */
  reload(cause: ReloadCause): boolean;
  /** Reloads whenever a file changes (its directory is watched, which also sees a symlink swapped). */
  watch(): void;
  close(): void;
}

// Writing a certificate and its key is several file events: one reload after they settle.
const SETTLE_MS = 100;

/** The public port's TLS from its files (already checked at start-up by the config). */
export function tlsListener(files: TlsFiles, logger: Logger): TlsListener {
  const events = new EventEmitter();
  let loaded = read(files);
  let server: HttpsServer | undefined;
  let watchers: FSWatcher[] = [];
  let settle: NodeJS.Timeout | undefined;

  const reload = (cause: ReloadCause): boolean => {
    let next: SecureContextOptions;
    try {
      next = read(files);
      // A change event for another file in the directory, or the same bytes again: nothing to do.
      if (cause === "change" && sameFiles(next, loaded)) return true;
      server?.setSecureContext(next);
    } catch {
      // Mid-write, or a key that does not match the certificate: the files are named, never shown.
      logger.warn({ cause, ...files }, "TLS files did not load: the previous certificate stays in use");
      events.emit("reload", { loaded: false, cause });
      return false;
    }
    loaded = next;
    logger.info({ cause }, "TLS certificate and keys reloaded");
    events.emit("reload", { loaded: true, cause });
    return true;
  };

  return Object.assign(events, {
    serverFactory: ((options, listener) => {
      server = createHttpsServer(
        {
          ...options,
          ...loaded,
          // Ask for a client certificate without refusing the handshake: a caller without one is
          // answered 403 ROUTER_ONLY (graphql/perimeter/), a coded and counted refusal.
          requestCert: files.clientCaFile !== undefined,
          rejectUnauthorized: false,
          minVersion: "TLSv1.2",
        },
        listener,
      );
      return server;
    }) satisfies ServerFactory,
    reload,
    watch() {
      const directories = new Set(
        [files.certFile, files.keyFile, files.clientCaFile].flatMap((file) =>
          file === undefined ? [] : [dirname(file)],
        ),
      );
      watchers = [...directories].map((directory) =>
        watch(directory, { persistent: false }, () => {
          clearTimeout(settle);
          settle = setTimeout(() => reload("change"), SETTLE_MS);
        }),
      );
    },
    close() {
      clearTimeout(settle);
      for (const watcher of watchers) watcher.close();
      watchers = [];
    },
  });
}

function read(files: TlsFiles): SecureContextOptions {
  return {
    cert: readFileSync(files.certFile),
    key: readFileSync(files.keyFile),
    ...(files.clientCaFile === undefined ? {} : { ca: readFileSync(files.clientCaFile) }),
  };
}

function sameFiles(a: SecureContextOptions, b: SecureContextOptions): boolean {
  const same = (x: unknown, y: unknown) => (Buffer.isBuffer(x) && Buffer.isBuffer(y) ? x.equals(y) : x === y);
  return same(a.cert, b.cert) && same(a.key, b.key) && same(a.ca, b.ca);
}
