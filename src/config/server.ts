import proxyAddr from "proxy-addr";
import { ConfigError, type Env, flag, integer, list, oneOf, optionalText, retired, text } from "./parse.js";

export type NodeEnv = "production" | "development" | "test";

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
  /** Where /healthz, /readyz and /metrics are also served, apart from the public port; unset: not at all. */
  readonly admin: { readonly host: string; readonly port: number } | undefined;
}

/** The longest a request may take to arrive in full, head and body (node:http's requestTimeout). */
export const REQUEST_TIMEOUT_MS = 30_000;

function corsOrigins(env: Env): string[] {
  const origins = list(env, "CORS_ORIGINS");
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        "CORS_ORIGINS must be a comma-separated list of origins such as https://studio.apollographql.com",
      );
    }
  }
  return origins;
}

function trustedProxies(env: Env): string[] {
  // A hop count trusts X-Forwarded-For from whoever connects: any caller reaching the service directly
  // could then choose the address its guesses are counted against (issue 11).
  retired(
    env,
    "TRUST_PROXY_HOPS",
    "list the reverse proxies' addresses or CIDRs in TRUSTED_PROXIES (X-Forwarded-For is honoured only from those)",
  );
  const proxies = list(env, "TRUSTED_PROXIES");
  try {
    proxyAddr.compile(proxies);
  } catch {
    throw new ConfigError(
      "TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDRs (e.g. 10.0.0.0/8, ::1), or loopback, linklocal, uniquelocal",
    );
  }
  return proxies;
}

/** A host name or an IP address to listen on (a typo would otherwise surface as a listen error). */
function hostName(env: Env, name: string, fallback: string): string {
  const value = text(env, name, fallback);
  if (!/^[A-Za-z0-9._:-]{1,253}$/.test(value)) {
    throw new ConfigError(`${name} must be a host name or an IP address, such as 0.0.0.0 or ::`);
  }
  return value;
}

function admin(env: Env, host: string, port: number): ServerConfig["admin"] {
  if (optionalText(env, "ADMIN_PORT") === undefined) {
    if (optionalText(env, "ADMIN_HOST") !== undefined)
      throw new ConfigError("ADMIN_HOST is set but ADMIN_PORT is not: set ADMIN_PORT too");
    return undefined;
  }
  const adminPort = integer(env, "ADMIN_PORT", 0, 0, 65_535);
  if (adminPort !== 0 && adminPort === port) throw new ConfigError("ADMIN_PORT must differ from PORT");
  return { host: hostName(env, "ADMIN_HOST", host), port: adminPort };
}

/**
 * NODE_ENV, HOST, PORT, TRUSTED_PROXIES, REQUEST_ID_HEADER, CORS_ORIGINS, INTROSPECTION,
 * SHUTDOWN_TIMEOUT_MS, REQUEST_HEADERS_TIMEOUT_MS, MAX_CONNECTIONS, LISTEN_BACKLOG, ADMIN_PORT, ADMIN_HOST
 */
export function serverConfig(env: Env): ServerConfig {
  const nodeEnv = oneOf<NodeEnv>(env, "NODE_ENV", "development", ["production", "development", "test"]);
  const requestIdHeader = text(env, "REQUEST_ID_HEADER", "x-request-id").toLowerCase();
  if (!/^[a-z0-9-]{1,64}$/.test(requestIdHeader)) {
    throw new ConfigError("REQUEST_ID_HEADER must be an HTTP header name (letters, digits and dashes)");
  }
  const host = hostName(env, "HOST", "0.0.0.0");
  const port = integer(env, "PORT", 4000, 0, 65_535);
  return {
    nodeEnv,
    host,
    port,
    trustedProxies: trustedProxies(env),
    requestIdHeader,
    corsOrigins: corsOrigins(env),
    introspection: flag(env, "INTROSPECTION", nodeEnv !== "production"),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 300_000),
    // node:http refuses a head timeout longer than the whole-request timeout.
    requestHeadersTimeoutMs: integer(env, "REQUEST_HEADERS_TIMEOUT_MS", 10_000, 50, REQUEST_TIMEOUT_MS),
    maxConnections: integer(env, "MAX_CONNECTIONS", 10_000, 1, 1_000_000),
    listenBacklog: integer(env, "LISTEN_BACKLOG", 4096, 1, 65_535),
    admin: admin(env, host, port),
  };
}
