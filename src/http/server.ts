import {
  createServer,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from "node:http";
import type { Logger } from "pino";
import { REQUEST_TIMEOUT_MS } from "../config/server.js";
import { ServiceCode } from "../errors.js";
import type { ServiceMetrics } from "../observability/metrics.js";
import { accessLog } from "./access-log.js";
import { clientAddress, type ProxyTrust } from "./client-address.js";
import { corsHeaders } from "./cors.js";
import { closeServer, drainServer, type HttpEdge } from "./drain.js";
import { jsonError, type Reply, type RequestFacts, type Route } from "./exchange.js";
import { requestIdOf } from "./request-id.js";

export type { HttpEdge } from "./drain.js";

/** How long connections may idle and how many may be open at once. */
export interface ConnectionLimits {
  /** A connection without a complete request head after this is answered 408 and closed. */
  readonly headersTimeoutMs: number;
  /** Connections past this many are closed as soon as they are accepted. */
  readonly maxConnections: number;
}

/** Makes the listening server: node:http's by default, node:https's for TLS (see tls.ts). */
export type ServerFactory = (options: ServerOptions, listener: RequestListener) => Server;

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  /** Which peers are trusted reverse proxies (TRUSTED_PROXIES), for X-Forwarded-For. */
  readonly proxyTrust: ProxyTrust;
  readonly requestIdHeader: string;
  readonly corsOrigins: readonly string[];
  /** The route table this server answers from (see routes.ts). */
  readonly route: Route;
  readonly connections: ConnectionLimits;
  /** Plain HTTP when not given. */
  readonly serverFactory?: ServerFactory;
}

// A dropped-connection warning at most this often: a flood must not become a flood of log lines.
const DROP_WARNING_INTERVAL_MS = 10_000;

/**
 * An HTTP server on plain node:http answering from a route table. Every request gets a request id and
 * one log line with its outcome and duration; a failure inside a handler becomes a coded 500 answer,
 * never a crash.
 */
export function createHttpServer(options: HttpServerOptions): HttpEdge {
  const { logger, metrics, route } = options;
  const logRequest = accessLog(logger);
  const cors = corsHeaders(options.corsOrigins);
  const pending = new Map<ServerResponse, (reply: Reply) => void>();
  const { headersTimeoutMs } = options.connections;
  let draining = false;

  const server = (options.serverFactory ?? createServer)(
    {
      requestTimeout: REQUEST_TIMEOUT_MS,
      headersTimeout: headersTimeoutMs,
      // An idle keep-alive connection gets no longer than a fresh one to send its next request.
      keepAliveTimeout: Math.min(5000, headersTimeoutMs),
      // Node checks the timeouts above on this interval (30 s by default, which let a silent
      // connection live about 30 s whatever headersTimeout said): check often enough that a
      // connection is closed within a quarter of its timeout past it.
      connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(headersTimeoutMs / 4))),
    },
    (request, response) => {
      const started = performance.now();
      const facts: RequestFacts = {
        requestId: requestIdOf(request, options.requestIdHeader),
        clientAddress: clientAddress(request, options.proxyTrust),
      };
      const url = request.url ?? "/";
      const queryStart = url.indexOf("?");
      const path = queryStart === -1 ? url : url.slice(0, queryStart);

      const settle = (reply: Reply): void => {
        if (!pending.delete(response)) return;
        if (reply.body !== undefined && !response.headersSent) {
          const headers: Record<string, string> = {
            ...reply.headers,
            ...cors(request.headers.origin),
            "x-request-id": facts.requestId,
          };
          // A refused body is not read to the end, so the connection cannot carry another request: say
          // so, and Node closes it once the answer is out, instead of a keep-alive client's next
          // request meeting a destroyed socket.
          if (reply.status === 413) headers.connection = "close";
          if (draining) {
            headers.connection = "close";
            // The connection is idle once this answer is out: a draining server closes it now.
            response.on("finish", () => setImmediate(() => server.closeIdleConnections()));
          }
          // A known length instead of chunked framing: clients and gateways can size the answer, and a
          // keep-alive peer needs no terminating chunk. (Not a syscall saving: measured with strace -c,
          // both forms leave in one write per answer; see docs/benchmarks.md.)
          headers["content-length"] = String(Buffer.byteLength(reply.body));
          response.writeHead(reply.status, headers);
          response.end(request.method === "HEAD" ? undefined : reply.body);
        }
        if (path === "/graphql") metrics.graphqlRequest(reply.outcome);
        logRequest({
          requestId: facts.requestId,
          method: request.method,
          path,
          status: reply.status,
          outcome: reply.outcome,
          started,
        });
      };
      pending.set(response, settle);
      route(request, response, facts, path)
        .catch((error: unknown) => {
          logger.error({ err: error, requestId: facts.requestId }, "Unhandled error while serving a request");
          return jsonError(500, ServiceCode.INTERNAL_SERVER_ERROR, "Internal server error.");
        })
        .then(settle);
    },
  );
  server.maxConnections = options.connections.maxConnections;

  let dropped = 0;
  let lastWarning = Number.NEGATIVE_INFINITY;
  server.on("drop", () => {
    dropped++;
    const now = performance.now();
    if (now - lastWarning < DROP_WARNING_INTERVAL_MS) return;
    lastWarning = now;
    logger.warn(
      { maxConnections: server.maxConnections, dropped },
      "Connection cap reached: closing new connections",
    );
    dropped = 0;
  });

  return {
    server,
    drain: (deadlineMs) => {
      draining = true;
      return drainServer({ server, pending, logger }, deadlineMs);
    },
    close: () => closeServer(server),
  };
}

/**
 * The connection cap actually used: the configured one, lowered so that a fifth of the process's
 * file descriptors (at least 64) stay free for upstream and store connections, logs and the admin
 * port. Without a cap below the limit a flood of idle connections took every descriptor.
 */
export function connectionCap(configured: number, descriptorLimit: number | undefined): number {
  if (descriptorLimit === undefined) return configured;
  const reserved = Math.max(64, Math.ceil(descriptorLimit / 5));
  return Math.max(1, Math.min(configured, descriptorLimit - reserved));
}
