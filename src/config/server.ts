import proxyAddr from "proxy-addr";
import { ConfigError, type Env, flag, integer, list, oneOf, retired, text } from "./parse.js";

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
}

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

/** NODE_ENV, HOST, PORT, TRUSTED_PROXIES, REQUEST_ID_HEADER, CORS_ORIGINS, INTROSPECTION, SHUTDOWN_TIMEOUT_MS */
export function serverConfig(env: Env): ServerConfig {
  const nodeEnv = oneOf<NodeEnv>(env, "NODE_ENV", "development", ["production", "development", "test"]);
  const requestIdHeader = text(env, "REQUEST_ID_HEADER", "x-request-id").toLowerCase();
  if (!/^[a-z0-9-]{1,64}$/.test(requestIdHeader)) {
    throw new ConfigError("REQUEST_ID_HEADER must be an HTTP header name (letters, digits and dashes)");
  }
  return {
    nodeEnv,
    host: text(env, "HOST", "0.0.0.0"),
    port: integer(env, "PORT", 4000, 0, 65_535),
    trustedProxies: trustedProxies(env),
    requestIdHeader,
    corsOrigins: corsOrigins(env),
    introspection: flag(env, "INTROSPECTION", nodeEnv !== "production"),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 300_000),
  };
}
