import { ConfigError, type Env, flag, integer, retired } from "./parse.js";

/**
 * Limits nobody has needed to tune, kept as named constants (the README lists them): a token
 * exchange is one shallow field, so no legitimate operation comes near them.
 */
export const MAX_DEPTH = 10;
export const MAX_DIRECTIVES = 10;

/** Brute-force lockout per clientId (and, at 4× the threshold, per address). */
export interface LockoutConfig {
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly baseSeconds: number;
  readonly maxSeconds: number;
}

/** What one request may ask for, and how failed credential attempts are limited. */
export interface LimitsConfig {
  readonly bodyLimitBytes: number;
  readonly maxTokenFieldsPerOperation: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly requireSecretVariables: boolean;
  readonly lockout: LockoutConfig;
  /** How long a credential Aspose accepted passes the lockouts (known-good), since its last acceptance. */
  readonly verifierTtlSeconds: number;
  /** A forced refresh this soon after the last upstream fetch for its credential returns that token. */
  readonly forceRefreshMinIntervalSeconds: number;
}

/**
 * REQUEST_BODY_LIMIT_BYTES, GRAPHQL_*, MAX_TOKEN_FIELDS_PER_OPERATION, REQUIRE_SECRET_VARIABLES,
 * LOCKOUT_*, VERIFIER_TTL_SECONDS, FORCE_REFRESH_MIN_INTERVAL_SECONDS
 */
export function limitsConfig(env: Env): LimitsConfig {
  retired(env, "GRAPHQL_MAX_DEPTH", `the depth limit is fixed at ${MAX_DEPTH}`);
  retired(env, "GRAPHQL_MAX_DIRECTIVES", `the directive limit is fixed at ${MAX_DIRECTIVES}`);
  const lockout: LockoutConfig = {
    threshold: integer(env, "LOCKOUT_THRESHOLD", 5, 1, 1000),
    windowSeconds: integer(env, "LOCKOUT_WINDOW_SECONDS", 900, 1, 86_400),
    baseSeconds: integer(env, "LOCKOUT_BASE_SECONDS", 30, 1, 86_400),
    maxSeconds: integer(env, "LOCKOUT_MAX_SECONDS", 900, 1, 86_400),
  };
  if (lockout.maxSeconds < lockout.baseSeconds) {
    throw new ConfigError("LOCKOUT_MAX_SECONDS must be at least LOCKOUT_BASE_SECONDS");
  }
  return {
    bodyLimitBytes: integer(env, "REQUEST_BODY_LIMIT_BYTES", 65_536, 1024, 10_485_760),
    maxTokenFieldsPerOperation: integer(env, "MAX_TOKEN_FIELDS_PER_OPERATION", 3, 1, 100),
    maxAliases: integer(env, "GRAPHQL_MAX_ALIASES", 10, 1, 1000),
    maxTokens: integer(env, "GRAPHQL_MAX_TOKENS", 1000, 50, 100_000),
    requireSecretVariables: flag(env, "REQUIRE_SECRET_VARIABLES", true),
    lockout,
    // At least a minute: shorter would let an attacker lock owners out between their requests. At
    // most 30 days: how long a secret revoked at Aspose may still pass the lockouts for its cached
    // token (its first upstream attempt is rejected and drops the verifier).
    verifierTtlSeconds: integer(env, "VERIFIER_TTL_SECONDS", 86_400, 60, 2_592_000),
    // 0 turns the bound off; more than an hour would make forceRefresh meaningless.
    forceRefreshMinIntervalSeconds: integer(env, "FORCE_REFRESH_MIN_INTERVAL_SECONDS", 10, 0, 3600),
  };
}
