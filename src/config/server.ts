import { ConfigError, type Env, flag, integer, list, oneOf, text } from "./parse.js";

export type NodeEnv = "production" | "development" | "test";

/** The HTTP edge: where it listens, whom it trusts, how it stops. */
export interface ServerConfig {
  readonly nodeEnv: NodeEnv;
  readonly host: string;
  readonly port: number;
  /** How many reverse proxies in front of the service append to X-Forwarded-For (0: ignore the header). */
  readonly trustProxyHops: number;
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

/** NODE_ENV, HOST, PORT, TRUST_PROXY_HOPS, REQUEST_ID_HEADER, CORS_ORIGINS, INTROSPECTION, SHUTDOWN_TIMEOUT_MS */
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
    trustProxyHops: integer(env, "TRUST_PROXY_HOPS", 0, 0, 10),
    requestIdHeader,
    corsOrigins: corsOrigins(env),
    introspection: flag(env, "INTROSPECTION", nodeEnv !== "production"),
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 300_000),
  };
}
