/**
 * The service's configuration: read from the environment once at start-up, validated, frozen. Each
 * room declares its variables once, in its own section (kinds in parse.ts), and reads them through
 * those declarations; a bad value stops start-up with a message that names the variable. The
 * reference (docs/configuration.md) and `.env.example` are generated from CONFIG_SECTIONS.
 */
import { AUDIT, type AuditConfig, auditConfig } from "./audit.js";
import { EDGE_LIMITS } from "./edge-limits.js";
import { LIMITS, type LimitsConfig, limitsConfig } from "./limits.js";
import { ConfigError, type Env } from "./parse.js";
import { PERIMETER, type PerimeterConfig, perimeterConfig } from "./perimeter.js";
import type { ConfigSection, Variable } from "./section.js";
import { SERVER, type ServerConfig, serverConfig } from "./server.js";
import { STORE, storeConfig } from "./store.js";
import type { StoreConfig } from "./store-types.js";
import { TELEMETRY, type TelemetryConfig, telemetryConfig } from "./telemetry.js";
import { TOKENS, type TokensConfig, tokensConfig } from "./tokens.js";
import { UPSTREAM, type UpstreamConfig, upstreamConfig } from "./upstream.js";

export type { AuditConfig, AuditDestination } from "./audit.js";
export type { EdgeLimitsConfig, ProxyAccounting } from "./edge-limits.js";
export type { LimitsConfig, LockoutConfig } from "./limits.js";
export { ConfigError, type Env } from "./parse.js";
export type { PerimeterConfig, TlsFiles } from "./perimeter.js";
export { type ConfigSection, unsetBlankVariables, type Variable } from "./section.js";
export { type Explorer, type NodeEnv, SHUTDOWN_GRACE_MS, type ServerConfig } from "./server.js";
export type {
  EvictingPolicyAction,
  RedisAuth,
  RedisNode,
  RedisTls,
  SharedStoreConfig,
  StoreConfig,
} from "./store-types.js";
export type { LogLevel, TelemetryConfig, TracingConfig } from "./telemetry.js";
export type { TokensConfig } from "./tokens.js";
export type { TrustedDocumentList } from "./trusted-documents.js";
export type { UpstreamConfig } from "./upstream.js";

export interface Config {
  readonly server: ServerConfig;
  readonly upstream: UpstreamConfig;
  readonly tokens: TokensConfig;
  readonly limits: LimitsConfig;
  readonly store: StoreConfig;
  readonly telemetry: TelemetryConfig;
  readonly audit: AuditConfig;
  readonly perimeter: PerimeterConfig;
}

/** Every section, in the order the reference and `.env.example` give them. */
export const CONFIG_SECTIONS: readonly ConfigSection<Readonly<Record<string, Variable<unknown>>>>[] = [
  SERVER,
  EDGE_LIMITS,
  UPSTREAM,
  TOKENS,
  LIMITS,
  STORE,
  TELEMETRY,
  AUDIT,
  PERIMETER,
];

/** Parses and validates the environment into a frozen Config. */
export function loadConfig(env: Env): Config {
  const tokens = tokensConfig(env);
  const config: Config = {
    server: serverConfig(env),
    upstream: upstreamConfig(env),
    tokens,
    limits: limitsConfig(env),
    store: storeConfig(env),
    telemetry: telemetryConfig(env),
    audit: auditConfig(env, tokens),
    perimeter: perimeterConfig(env),
  };
  if (config.server.edge.bodyBudgetBytes < config.limits.bodyLimitBytes) {
    throw new ConfigError("REQUEST_BODY_BUDGET_BYTES must be at least REQUEST_BODY_LIMIT_BYTES");
  }
  // Replicas sharing a store must derive the same credential keys (and sealing salt): a random
  // per-process key would make every replica's entries unreadable to the others.
  if (config.store.kind !== "memory" && config.tokens.keySource === "random") {
    throw new ConfigError(
      "TOKEN_CACHE_KEY must be set with a shared store (REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS): every replica needs the same one",
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
