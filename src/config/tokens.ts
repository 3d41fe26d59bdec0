import { randomBytes } from "node:crypto";
import { ConfigError, type Env, flag, integer, optionalText, ratio } from "./parse.js";

/** The token cache and the refresh policy. */
export interface TokensConfig {
  readonly cacheEnabled: boolean;
  readonly maxEntries: number;
  /** Keys credential keys (HMAC) and salts sealed entries. */
  readonly key: Buffer;
  /** Where the key came from: replicas sharing a store need an explicit one. */
  readonly keySource: "explicit" | "random";
  readonly refreshMarginMinSeconds: number;
  readonly refreshMarginRatio: number;
  /** Inside max(these seconds, ratio × lifetime) a token is served at once and refreshed in the background. */
  readonly refreshAheadSeconds: number;
  readonly refreshAheadRatio: number;
}

function cacheKey(env: Env): Pick<TokensConfig, "key" | "keySource"> {
  const raw = optionalText(env, "TOKEN_CACHE_KEY");
  // A per-process random key is the safe default: credential keys are then meaningless outside
  // this process. Replicas that share a cache (Redis) must share TOKEN_CACHE_KEY.
  if (raw === undefined) return { key: randomBytes(32), keySource: "random" };
  const key = Buffer.from(raw, "base64");
  if (key.length < 32)
    throw new ConfigError("TOKEN_CACHE_KEY must be at least 32 random bytes, base64-encoded");
  return { key, keySource: "explicit" };
}

/** TOKEN_* */
export function tokensConfig(env: Env): TokensConfig {
  return {
    cacheEnabled: flag(env, "TOKEN_CACHE", true),
    maxEntries: integer(env, "TOKEN_CACHE_MAX_ENTRIES", 10_000, 1, 10_000_000),
    ...cacheKey(env),
    refreshMarginMinSeconds: integer(env, "TOKEN_REFRESH_MARGIN_SECONDS", 60, 0, 86_400),
    refreshMarginRatio: ratio(env, "TOKEN_REFRESH_MARGIN_RATIO", 0.1),
    // Defaults: five minutes, or a quarter of the lifetime (15 minutes of Aspose's one-hour tokens):
    // time for several background attempts, spaced a tenth of the lifetime apart, before the hard margin.
    refreshAheadSeconds: integer(env, "TOKEN_REFRESH_AHEAD_SECONDS", 300, 0, 86_400),
    refreshAheadRatio: ratio(env, "TOKEN_REFRESH_AHEAD_RATIO", 0.25),
  };
}
