/**
 * The service's configuration: read from the environment once at start-up, validated, frozen.
 * A bad value stops start-up with a message that names the variable; every variable is listed,
 * with its default, in `.env.example` and the README.
 */
import { randomBytes } from "node:crypto";

export type NodeEnv = "production" | "development" | "test";
export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface Config {
  readonly nodeEnv: NodeEnv;
  readonly host: string;
  readonly port: number;
  readonly logLevel: LogLevel;
  readonly aspose: {
    readonly baseUrl: string;
    readonly tokenPath: string;
    /** Per-attempt timeout. */
    readonly timeoutMs: number;
    /** One deadline for the whole call, retries and back-off included. */
    readonly totalTimeoutMs: number;
    readonly retryLimit: number;
    readonly retryBaseDelayMs: number;
    /** A 429 whose Retry-After exceeds this is not waited for: the caller gets it back. */
    readonly maxRetryAfterMs: number;
  };
  readonly tokenCache: {
    readonly enabled: boolean;
    readonly maxEntries: number;
    /** HMAC key for credential keys; random per process unless TOKEN_CACHE_KEY is set. */
    readonly key: Buffer;
    readonly refreshMarginMinSeconds: number;
    readonly refreshMarginRatio: number;
  };
  readonly limits: {
    readonly bodyLimitBytes: number;
    readonly maxTokenFieldsPerOperation: number;
    readonly maxDepth: number;
    readonly maxAliases: number;
    readonly maxTokens: number;
    readonly maxDirectives: number;
    readonly requireSecretVariables: boolean;
  };
  readonly lockout: {
    readonly threshold: number;
    readonly windowSeconds: number;
    readonly baseSeconds: number;
    readonly maxSeconds: number;
  };
  /** How many reverse proxies in front of the service append to X-Forwarded-For (0: ignore the header). */
  readonly trustProxyHops: number;
  readonly requestIdHeader: string;
  readonly corsOrigins: readonly string[];
  readonly introspection: boolean;
  readonly apollo: { readonly key: string | undefined; readonly graphRef: string | undefined };
  readonly redis: {
    readonly url: string | undefined;
    readonly keyPrefix: string;
    readonly commandTimeoutMs: number;
  };
  readonly shutdownTimeoutMs: number;
}

/** Thrown for an invalid environment; the message names the variable and never echoes a secret value. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? fallback : value;
}

function optionalText(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  const value = Number(raw);
  if (value < min || value > max)
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

function ratio(env: Env, name: string, fallback: number): number {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || value >= 1)
    throw new ConfigError(`${name} must be a number in [0, 1)`);
  return value;
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = optionalText(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (["1", "true", "on", "yes"].includes(raw)) return true;
  if (["0", "false", "off", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be one of on/off, true/false, 1/0`);
}

function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  const found = allowed.find((candidate) => candidate === raw);
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}`);
  return found;
}

function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = text(env, name, fallback);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigError(`${name} must be an http(s) URL`);
  // Credentials in the base URL would end up in logs and error messages.
  if (url.username !== "" || url.password !== "")
    throw new ConfigError(`${name} must not contain credentials`);
  if (url.search !== "" || url.hash !== "")
    throw new ConfigError(`${name} must not contain a query or fragment`);
  return raw.replace(/\/+$/, "");
}

function tokenPath(env: Env): string {
  const raw = text(env, "ASPOSE_TOKEN_PATH", "/v4.0/cells/connect/token");
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(raw)) {
    throw new ConfigError("ASPOSE_TOKEN_PATH must be a path starting with / (no query string)");
  }
  return raw;
}

function cacheKey(env: Env): Buffer {
  const raw = optionalText(env, "TOKEN_CACHE_KEY");
  // A per-process random key is the safe default: credential keys are then meaningless outside
  // this process. Replicas that share a cache (Redis) must share TOKEN_CACHE_KEY.
  if (raw === undefined) return randomBytes(32);
  const key = Buffer.from(raw, "base64");
  if (key.length < 32)
    throw new ConfigError("TOKEN_CACHE_KEY must be at least 32 random bytes, base64-encoded");
  return key;
}

function redisUrl(env: Env): string | undefined {
  const raw = optionalText(env, "REDIS_URL");
  if (raw === undefined) return undefined;
  try {
    const url = new URL(raw);
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new Error("protocol");
  } catch {
    // The URL may hold a password: name the variable, never echo the value.
    throw new ConfigError("REDIS_URL must be a redis:// or rediss:// URL");
  }
  return raw;
}

function corsOrigins(env: Env): string[] {
  const raw = optionalText(env, "CORS_ORIGINS");
  if (raw === undefined) return [];
  const origins = raw
    .split(",")
    .map((origin) => origin.trim())
    .filter((origin) => origin !== "");
  for (const origin of origins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new ConfigError(
        "CORS_ORIGINS must be a comma-separated list of origins such as https://studio.apollographql.com",
      );
    }
  }
  return origins;
}

/** Parses and validates the environment into a frozen Config. */
export function loadConfig(env: Env): Config {
  const nodeEnv = oneOf<NodeEnv>(env, "NODE_ENV", "development", ["production", "development", "test"]);
  const production = nodeEnv === "production";
  const timeoutMs = integer(env, "ASPOSE_TIMEOUT_MS", 10_000, 100, 120_000);
  const config: Config = {
    nodeEnv,
    host: text(env, "HOST", "0.0.0.0"),
    port: integer(env, "PORT", 4000, 0, 65_535),
    logLevel: oneOf<LogLevel>(env, "LOG_LEVEL", "info", [
      "fatal",
      "error",
      "warn",
      "info",
      "debug",
      "trace",
      "silent",
    ]),
    aspose: {
      baseUrl: httpUrl(env, "ASPOSE_BASE_URL", "https://api.aspose.cloud"),
      tokenPath: tokenPath(env),
      timeoutMs,
      totalTimeoutMs: integer(env, "ASPOSE_TOTAL_TIMEOUT_MS", 25_000, timeoutMs, 300_000),
      retryLimit: integer(env, "ASPOSE_RETRY_LIMIT", 2, 0, 10),
      retryBaseDelayMs: integer(env, "ASPOSE_RETRY_BASE_DELAY_MS", 200, 1, 60_000),
      maxRetryAfterMs: integer(env, "ASPOSE_MAX_RETRY_AFTER_SECONDS", 5, 0, 300) * 1000,
    },
    tokenCache: {
      enabled: flag(env, "TOKEN_CACHE", true),
      maxEntries: integer(env, "TOKEN_CACHE_MAX_ENTRIES", 10_000, 1, 10_000_000),
      key: cacheKey(env),
      refreshMarginMinSeconds: integer(env, "TOKEN_REFRESH_MARGIN_SECONDS", 60, 0, 86_400),
      refreshMarginRatio: ratio(env, "TOKEN_REFRESH_MARGIN_RATIO", 0.1),
    },
    limits: {
      bodyLimitBytes: integer(env, "REQUEST_BODY_LIMIT_BYTES", 65_536, 1024, 10_485_760),
      maxTokenFieldsPerOperation: integer(env, "MAX_TOKEN_FIELDS_PER_OPERATION", 3, 1, 100),
      maxDepth: integer(env, "GRAPHQL_MAX_DEPTH", 10, 2, 100),
      maxAliases: integer(env, "GRAPHQL_MAX_ALIASES", 10, 1, 1000),
      maxTokens: integer(env, "GRAPHQL_MAX_TOKENS", 1000, 50, 100_000),
      maxDirectives: integer(env, "GRAPHQL_MAX_DIRECTIVES", 10, 1, 1000),
      requireSecretVariables: flag(env, "REQUIRE_SECRET_VARIABLES", true),
    },
    lockout: {
      threshold: integer(env, "LOCKOUT_THRESHOLD", 5, 1, 1000),
      windowSeconds: integer(env, "LOCKOUT_WINDOW_SECONDS", 900, 1, 86_400),
      baseSeconds: integer(env, "LOCKOUT_BASE_SECONDS", 30, 1, 86_400),
      maxSeconds: integer(env, "LOCKOUT_MAX_SECONDS", 900, 1, 86_400),
    },
    trustProxyHops: integer(env, "TRUST_PROXY_HOPS", 0, 0, 10),
    requestIdHeader: text(env, "REQUEST_ID_HEADER", "x-request-id").toLowerCase(),
    corsOrigins: corsOrigins(env),
    introspection: flag(env, "INTROSPECTION", !production),
    apollo: { key: optionalText(env, "APOLLO_KEY"), graphRef: optionalText(env, "APOLLO_GRAPH_REF") },
    redis: {
      url: redisUrl(env),
      keyPrefix: text(env, "REDIS_KEY_PREFIX", "aspose-token:"),
      commandTimeoutMs: integer(env, "REDIS_TIMEOUT_MS", 250, 10, 10_000),
    },
    shutdownTimeoutMs: integer(env, "SHUTDOWN_TIMEOUT_MS", 10_000, 0, 300_000),
  };
  if (config.lockout.maxSeconds < config.lockout.baseSeconds) {
    throw new ConfigError("LOCKOUT_MAX_SECONDS must be at least LOCKOUT_BASE_SECONDS");
  }
  if (config.apollo.key !== undefined && config.apollo.graphRef === undefined) {
    throw new ConfigError("APOLLO_GRAPH_REF must be set when APOLLO_KEY is set");
  }
  // Replicas sharing Redis must derive the same credential keys (and cache entry salt): a random
  // per-process key would make every replica's entries unreadable to the others.
  if (config.redis.url !== undefined && optionalText(env, "TOKEN_CACHE_KEY") === undefined) {
    throw new ConfigError(
      "TOKEN_CACHE_KEY must be set when REDIS_URL is set (every replica needs the same one)",
    );
  }
  return deepFreeze(config);
}

function deepFreeze<T extends object>(value: T): T {
  for (const child of Object.values(value)) {
    if (typeof child === "object" && child !== null && !Buffer.isBuffer(child)) deepFreeze(child);
  }
  return Object.freeze(value);
}
