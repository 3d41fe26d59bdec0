import { createServer, type Server } from "node:http";
import type { Logger } from "pino";
import type { ServiceMetrics } from "../observability/metrics.js";
import { accessLog } from "./access-log.js";
import { clientAddress } from "./client-address.js";
import { corsHeaders } from "./cors.js";
import type { RequestFacts } from "./graphql-handler.js";
import type { OutcomeReport } from "./outcome.js";
import { jsonError } from "./reply.js";
import { requestIdOf } from "./request-id.js";
import type { Route } from "./routes.js";

export type { Readiness } from "./routes.js";

export interface HttpServerOptions {
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly trustProxyHops: number;
  readonly requestIdHeader: string;
  readonly corsOrigins: readonly string[];
  /** The route table this server answers from (see routes.ts). */
  readonly route: Route;
  /** True once shutdown began: answers then ask clients to close their connection. */
  readonly draining: () => boolean;
  /** Called after each answer sent while draining. */
  readonly onDrainedResponse?: () => void;
}

/**
 * An HTTP server on plain node:http answering from a route table. Every request gets a request id and
 * one log line with its outcome and duration; a failure inside a handler becomes a coded 500 answer,
 * never a crash.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const { logger, metrics, route } = options;
  const logRequest = accessLog(logger);
  const cors = corsHeaders(options.corsOrigins);

  return createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (request, response) => {
    const started = performance.now();
    const requestId = requestIdOf(request, options.requestIdHeader);
    const report: OutcomeReport = { outcome: "" };
    const facts: RequestFacts = {
      requestId,
      clientAddress: clientAddress(request, options.trustProxyHops),
      report,
    };
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    route(request, response, facts, path)
      .catch((error: unknown) => {
        logger.error({ err: error, requestId }, "Unhandled error while serving a request");
        return jsonError(500, "INTERNAL_SERVER_ERROR", "Internal server error.");
      })
      .then((reply) => {
        if (reply.body !== undefined && !response.headersSent) {
          const headers: Record<string, string> = {
            ...reply.headers,
            ...cors(request.headers.origin),
            "x-request-id": requestId,
          };
          // A refused body is not read to the end, so the connection cannot carry another request: say
          // so, and Node closes it once the answer is out, instead of a keep-alive client's next
          // request meeting a destroyed socket (issue 12 point 3).
          if (reply.status === 413) headers.connection = "close";
          if (options.draining()) {
            headers.connection = "close";
            // The connection is idle once this answer is out: let a draining server close it now.
            response.on("finish", () => setImmediate(() => options.onDrainedResponse?.()));
          }
          response.writeHead(reply.status, headers);
          response.end(request.method === "HEAD" ? undefined : reply.body);
        }
        if (path === "/graphql") metrics.graphqlRequest(reply.outcome);
        logRequest({
          requestId,
          method: request.method,
          path,
          status: reply.status,
          outcome: reply.outcome,
          started,
        });
      });
  });
}
