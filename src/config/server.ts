import proxyAddr from "proxy-addr";
import { type EdgeLimitsConfig, edgeLimitsConfig } from "./edge-limits.js";
import { list, matching, text } from "./formats.js";
import { ConfigError, type Env, flag, integer, oneOf, retired } from "./parse.js";
import { section } from "./section.js";

const NODE_ENVS = ["production", "development", "test"] as const;
export type NodeEnv = (typeof NODE_ENVS)[number];

const EXPLORERS = ["sandbox", "graphiql", "off"] as const;
/** What a browser opening /graphql gets (graphql/plugins/landing-page.ts). */
export type Explorer = (typeof EXPLORERS)[number];

/** The HTTP edge: where it listens, whom it trusts, how it stops. */
export interface ServerConfig {
  readonly nodeEnv: NodeEnv;
  readonly host: string;
  readonly port: number;
  /**
   * Addresses, CIDRs or proxy-addr's names (loopback, linklocal, uniquelocal) of the reverse proxies
   * whose X-Forwarded-For is honoured; empty: the header is ignored.
   */
  readonly trustedProxies: readonly string[];
  readonly requestIdHeader: string;
  readonly corsOrigins: readonly string[];
  readonly introspection: boolean;
  readonly explorer: Explorer;
  readonly shutdownTimeoutMs: number;
  /**
   * A connection that has not sent a complete request head within this is answered 408 and closed:
   * a fresh connection that never speaks, and a slow one (slowloris). Also bounds the keep-alive
   * idle time between requests.
   */
  readonly requestHeadersTimeoutMs: number;
  /** Open connections on the public port; more are closed at once. Lowered below the descriptor limit at start. */
  readonly maxConnections: number;
  /** The listen backlog asked of the kernel, which caps it at net.core.somaxconn. */
  readonly listenBacklog: number;
  /** Where /healthz, /readyz and /metrics are served instead of the public port; unset: on the public port. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
  /** What one client may hold of the public port (see edge-limits.ts). */
  readonly edge: EdgeLimitsConfig;
}

/**
 * Past SHUTDOWN_TIMEOUT_MS, what shutdown may still take before the process exits regardless:
 * answering the requests it cuts (1 s at most), stopping Apollo, closing the stores, writing the last
 * log lines. An orchestrator's grace period must cover both (deploy/kubernetes derives its own from it).
 */
export const SHUTDOWN_GRACE_MS = 3000;

/** A typo in a host would otherwise surface as a listen error. */
const hostName = matching(/^[A-Za-z0-9._:-]{1,253}$/, "a host name or an IP address, such as 0.0.0.0 or ::");

/** The variables of the HTTP edge. */
export const SERVER = section(
  "Server",
  "The HTTP edge: where the service listens, whom it trusts for client addresses, which browsers may call it, and how connections and shutdown are bounded. Operating notes for these (probes, connection cap, shutdown) are in [operations](operations.md).",
  {
    NODE_ENV: oneOf({
      allowed: NODE_ENVS,
      default: "development",
      does: "`production` turns introspection and the explorer off, and hides schema details (field suggestions) from refusals.",
      details:
        "`development` and `test` behave alike. `INTROSPECTION` and `EXPLORER` override the first two parts.",
    }),
    HOST: text({
      format: hostName,
      default: "0.0.0.0",
      does: "The address the public port listens on.",
      details:
        "`::` listens on IPv6 (and IPv4 where the system maps it); `127.0.0.1` keeps the service to this machine.",
    }),
    PORT: integer({
      min: 0,
      max: 65_535,
      default: 4000,
      does: "The public port: GraphQL at `/graphql`, and `/healthz`, `/readyz` and `/metrics` unless `ADMIN_PORT` is set.",
      details:
        "`0` lets the system pick a free port (the ready log line names it). A busy port stops start-up with one line on stderr and exit code 1.",
    }),
    TRUSTED_PROXIES: list({
      item: {
        means: "IP addresses or CIDRs (e.g. 10.0.0.0/8, ::1), or loopback, linklocal, uniquelocal",
        read: (entry) => {
          try {
            proxyAddr.compile([entry]);
            return entry;
          } catch {
            return undefined;
          }
        },
      },
      unset:
        "none: `X-Forwarded-For` is ignored and every request counts against the address it connected from",
      does: "The reverse proxies (addresses, CIDRs, or `loopback`, `linklocal`, `uniquelocal`) whose `X-Forwarded-For` is honoured when they connect.",
      details:
        "The header is read from the right, up to the first entry that is not a trusted proxy; anything a client wrote further left is ignored. List only proxies that append the address they saw: one that passes a client's header through unchanged lets that client choose the address its guesses are counted against. Behind a gateway, list the gateway (see [federation](federation.md#gateway-recipes) and [security](security.md)).",
      example: "10.0.0.0/8, ::1",
    }),
    // A hop count trusts X-Forwarded-For from whoever connects: any caller reaching the service
    // directly could then choose the address its guesses are counted against.
    TRUST_PROXY_HOPS: retired({
      instead:
        "list the reverse proxies' addresses or CIDRs in TRUSTED_PROXIES (X-Forwarded-For is honoured only from those)",
    }),
    REQUEST_ID_HEADER: text({
      format: matching(/^[A-Za-z0-9-]{1,64}$/, "an HTTP header name (letters, digits and dashes)"),
      default: "x-request-id",
      does: "The incoming header whose request id is trusted, when it matches `[A-Za-z0-9._:-]{1,128}`; otherwise a new UUID is made.",
      details:
        "Either way the id is logged with the request and echoed in the `x-request-id` response header.",
    }),
    CORS_ORIGINS: list({
      item: matching(/^https?:\/\/[^/\s]+$/, "origins such as https://studio.apollographql.com"),
      unset: "no browser origin is granted CORS",
      does: "The browser origins allowed to call `/graphql` (CORS).",
      details:
        "Set `https://studio.apollographql.com` to use Apollo Studio's Explorer against the subgraph directly.",
      example: "https://studio.apollographql.com",
    }),
    INTROSPECTION: flag({
      unset: "on, except off when `NODE_ENV=production`",
      does: "Whether schema introspection is answered.",
      details: "Gateways read the schema through `_service { sdl }`, which works with introspection off.",
    }),
    EXPLORER: oneOf({
      allowed: EXPLORERS,
      unset: "`sandbox`, except `off` when `NODE_ENV=production`",
      does: "What a browser opening `/graphql` gets: `sandbox` is Apollo Sandbox from Apollo's CDN, falling back to the built-in GraphiQL when the CDN cannot be reached; `graphiql` is the built-in GraphiQL, served by this service with no internet needed; `off` is a page that names the endpoint.",
      details:
        "The built-in GraphiQL keeps what is typed into it in the tab's memory only, never in the browser's storage. With introspection off it runs operations without the schema's completion. Details in [operations](operations.md#the-explorer).",
    }),
    SHUTDOWN_TIMEOUT_MS: integer({
      min: 0,
      max: 300_000,
      default: 10_000,
      does: "How long requests in flight at `SIGTERM`/`SIGINT` may take to finish.",
      details:
        "A request still waiting after it is answered 503 `SHUTTING_DOWN`; the process ends at most this plus 3 s after the first signal. On Kubernetes keep `terminationGracePeriodSeconds` above `preStop` + this + 3 s.",
    }),
    REQUEST_HEADERS_TIMEOUT_MS: integer({
      min: 50,
      max: 300_000,
      default: 5000,
      does: "A connection that has not sent a complete request head by then is answered 408 and closed.",
      details:
        "It catches connections that never speak and ones that trickle their headers (slowloris). At most `REQUEST_TIMEOUT_MS`, which bounds the whole request. A keep-alive connection may idle at most `min(5 s, this)` between requests.",
    }),
    MAX_CONNECTIONS: integer({
      min: 1,
      max: 1_000_000,
      default: 10_000,
      does: "Open connections on the public port; further ones are closed as soon as they are accepted.",
      details:
        "Lowered at start, with a warning, so that a fifth of the open-file limit (`ulimit -n`, at least 64 descriptors) stays free for Aspose and Redis connections and logs.",
    }),
    LISTEN_BACKLOG: integer({
      min: 1,
      max: 65_535,
      default: 4096,
      does: "The queue of connections the kernel completes before the process accepts them (Node's own default is 511).",
      details:
        "The kernel silently caps it at `net.core.somaxconn` (4096 on Linux 5.4 and later, 128 before): raise that sysctl too if you raise this.",
    }),
    ADMIN_PORT: integer({
      min: 0,
      max: 65_535,
      unset: "the probes and metrics are served on the public port, and share its fate under a flood",
      does: "A second port where `/healthz`, `/readyz` and `/metrics` are served instead of the public port, with its own cap of 64 connections, so probes and scrapers see the truth while the public port is flooded and an attacker on the public port sees neither.",
      details:
        "Must differ from `PORT` (`0` picks a free port). `/graphql` is never served there; keep it off the public network, and point liveness and readiness probes and the scraper at it.",
      example: "9090",
    }),
    ADMIN_HOST: text({
      format: hostName,
      unset: "the same as `HOST`",
      does: "The address the admin port listens on.",
      details: "Read only with `ADMIN_PORT`: set alone it stops start-up.",
      example: "127.0.0.1",
    }),
  },
);

const v = SERVER.variables;

function admin(env: Env, host: string, port: number): ServerConfig["admin"] {
  const adminPort = v.ADMIN_PORT.read(env);
  if (adminPort === undefined) {
    if (v.ADMIN_HOST.isSet(env))
      throw new ConfigError("ADMIN_HOST is set but ADMIN_PORT is not: set ADMIN_PORT too");
    return undefined;
  }
  if (adminPort !== 0 && adminPort === port) throw new ConfigError("ADMIN_PORT must differ from PORT");
  return { host: v.ADMIN_HOST.read(env) ?? host, port: adminPort };
}

/** The server section from the environment. */
export function serverConfig(env: Env): ServerConfig {
  const nodeEnv = v.NODE_ENV.read(env);
  const requestIdHeader = v.REQUEST_ID_HEADER.read(env).toLowerCase();
  const host = v.HOST.read(env);
  const port = v.PORT.read(env);
  v.TRUST_PROXY_HOPS.read(env);
  return {
    nodeEnv,
    host,
    port,
    trustedProxies: v.TRUSTED_PROXIES.read(env),
    requestIdHeader,
    corsOrigins: v.CORS_ORIGINS.read(env),
    introspection: v.INTROSPECTION.read(env) ?? nodeEnv !== "production",
    explorer: v.EXPLORER.read(env) ?? (nodeEnv === "production" ? "off" : "sandbox"),
    shutdownTimeoutMs: v.SHUTDOWN_TIMEOUT_MS.read(env),
    requestHeadersTimeoutMs: v.REQUEST_HEADERS_TIMEOUT_MS.read(env),
    maxConnections: v.MAX_CONNECTIONS.read(env),
    listenBacklog: v.LISTEN_BACKLOG.read(env),
    admin: admin(env, host, port),
    edge: edgeLimits(env),
  };
}

function edgeLimits(env: Env): EdgeLimitsConfig {
  const edge = edgeLimitsConfig(env);
  // node:http refuses a head timeout longer than the whole-request timeout.
  if (v.REQUEST_HEADERS_TIMEOUT_MS.read(env) > edge.requestTimeoutMs)
    throw new ConfigError("REQUEST_TIMEOUT_MS must be at least REQUEST_HEADERS_TIMEOUT_MS");
  return edge;
}
