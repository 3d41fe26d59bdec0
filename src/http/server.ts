import {
  createServer,
  type IncomingMessage,
  type RequestListener,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from "node:http";
import type { Logger } from "pino";
import { HttpCode, ServiceCode } from "../errors.js";
import type { ServiceMetrics } from "../observability/metrics.js";
import { accessLog } from "./access-log.js";
import { clientAddress, type ProxyTrust } from "./client-address.js";
import { type GuardLimits, guardConnections } from "./connection-guard.js";
import { corsHeaders } from "./cors.js";
import { closeServer, drainServer, type HttpEdge, silentConnections } from "./drain.js";
import { closing, jsonError, type Reply, type RequestFacts, type Route } from "./exchange.js";
import { requestIdOf } from "./request-id.js";
import type { Shed } from "./shedding.js";

export type { HttpEdge } from "./drain.js";

/** How long a request may take to arrive, how many connections may be open, and what one client may hold. */
export interface ConnectionLimits extends GuardLimits {
  /** A connection without a complete request head after this is answered 408 and closed. */
  readonly headersTimeoutMs: number;
  /** A request not received whole, head and body, after this is answered 408 and closed. */
  readonly requestTimeoutMs: number;
  /** Connections past this many are closed as soon as they are accepted. */
  readonly maxConnections: number;
}

/** Makes the listening server: node:http's by default, node:https's for TLS (see tls.ts). */
export type ServerFactory = (options: ServerOptions, listener: RequestListener) => Server;

/** What an edge holds now, for the metrics. */
export interface EdgeLoad {
  readonly openConnections: number;
  /** Pipelined requests parsed and waiting for their connection's turn. */
  readonly waitingRequests: number;
}

/** An HTTP server, the way to stop it, and what it holds. */
export interface GuardedEdge extends HttpEdge {
  load(): EdgeLoad;
}

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
  /** Told of every connection closed or request refused to protect the server (logs, metrics). */
  readonly shed: Shed;
}

const TOO_MANY_CONNECTIONS = closing(
  jsonError(
    429,
    HttpCode.TOO_MANY_CONNECTIONS,
    "Too many requests in progress from this client address. Retry shortly.",
  ),
  { "retry-after": "1" },
);

/**
 * An HTTP server on plain node:http answering from a route table. Every request gets a request id and
 * one log line with its outcome and duration; a failure inside a handler becomes a coded 500 answer,
 * never a crash.
 */
export function createHttpServer(options: HttpServerOptions): GuardedEdge {
  const { logger, metrics, route, connections } = options;
  const logRequest = accessLog(logger);
  const cors = corsHeaders(options.corsOrigins);
  const pending = new Map<ServerResponse, (reply: Reply) => void>();
  const { headersTimeoutMs } = connections;
  let draining = false;

  const server = (options.serverFactory ?? createServer)(
    {
      requestTimeout: connections.requestTimeoutMs,
      headersTimeout: headersTimeoutMs,
      // An idle keep-alive connection gets no longer than a fresh one to send its next request.
      keepAliveTimeout: Math.min(5000, headersTimeoutMs),
      // Node checks the timeouts above on this interval (30 s by default, which let a silent
      // connection live about 30 s whatever headersTimeout said): check often enough that a
      // connection is closed within a quarter of its timeout past it.
      connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(headersTimeoutMs / 4))),
    },
    (request, response) => guard.admit(request, response),
  );
  const serve = (request: IncomingMessage, response: ServerResponse): void => {
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
    if (!guard.admitForwarded(request, response, facts.clientAddress)) {
      settle(TOO_MANY_CONNECTIONS);
      return;
    }
    route(request, response, facts, path)
      .catch((error: unknown) => {
        logger.error({ err: error, requestId: facts.requestId }, "Unhandled error while serving a request");
        return jsonError(500, ServiceCode.INTERNAL_SERVER_ERROR, "Internal server error.");
      })
      .then(settle);
  };
  const guard = guardConnections(
    server,
    { limits: connections, proxyTrust: options.proxyTrust, shed: options.shed },
    serve,
  );
  const closeSilent = silentConnections(server);
  server.maxConnections = connections.maxConnections;
  server.on("drop", () => options.shed("connection_cap"));

  return {
    server,
    load: () => ({ openConnections: guard.open(), waitingRequests: guard.waiting() }),
    drain: (deadlineMs) => {
      draining = true;
      return drainServer({ server, pending, closeSilent, logger }, deadlineMs);
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
