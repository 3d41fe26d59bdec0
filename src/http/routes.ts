import type { IncomingMessage } from "node:http";
import { HttpCode, OutcomeLabel } from "../errors.js";
import type { ServiceMetrics } from "../observability/metrics.js";
import { type Handler, json, jsonError, type Reply, type Route } from "./exchange.js";

/** What /readyz reports. */
export interface Readiness {
  readonly ready: boolean;
  readonly checks: Readonly<Record<string, string>>;
}

export interface ProbeRouteOptions {
  readonly metrics: ServiceMetrics;
  readonly readiness: () => Readiness;
}

export interface PublicRouteOptions extends ProbeRouteOptions {
  readonly graphql: Handler;
  /** Static files (the explorer's) under a path prefix. */
  readonly files: {
    readonly prefix: string;
    serve(request: IncomingMessage, path: string): Promise<Reply>;
  };
  /**
   * Whether the probes are served here too: only when there is no admin port. With one, an attacker
   * on the public port sees neither the metrics nor the probes, and cannot make them fail.
   */
  readonly probes: boolean;
}

/**
 * The public route table: /graphql, the explorer's files, and the probes when there is no admin port
 * to serve them.
 */
export function publicRoutes(options: PublicRouteOptions): Route {
  const probes = options.probes ? probeRoutes(options) : notFound;
  const { files } = options;
  return async (request, response, facts, path) => {
    if (path === "/graphql") {
      if (request.method === "OPTIONS")
        return { status: 204, headers: {}, body: "", outcome: OutcomeLabel.OK };
      return options.graphql(request, response, facts);
    }
    if (path.startsWith(files.prefix)) return files.serve(request, path);
    return probes(request, response, facts, path);
  };
}

const NOT_FOUND = jsonError(404, HttpCode.NOT_FOUND, "Not found. GraphQL is served at /graphql.");

const notFound: Route = async () => NOT_FOUND;

/** The probe route table: /healthz, /readyz and /metrics (GET or HEAD), and a coded 404 for the rest. */
export function probeRoutes(options: ProbeRouteOptions): Route {
  return async (request, _response, _facts, path) => {
    const probe = path === "/healthz" || path === "/readyz" || path === "/metrics";
    if (!probe) return NOT_FOUND;
    const method = request.method ?? "GET";
    if (method !== "GET" && method !== "HEAD") {
      return jsonError(405, HttpCode.METHOD_NOT_ALLOWED, "Method not allowed.");
    }
    switch (path) {
      case "/healthz":
        return json(200, { status: "ok" });
      case "/readyz": {
        const readiness = options.readiness();
        return json(readiness.ready ? 200 : 503, {
          status: readiness.ready ? "ready" : "not-ready",
          ...readiness.checks,
        });
      }
      default: {
        // /metrics
        const rendered = await options.metrics.render();
        return {
          status: 200,
          headers: { "content-type": rendered.contentType },
          body: rendered.body,
          outcome: OutcomeLabel.OK,
        };
      }
    }
  };
}
