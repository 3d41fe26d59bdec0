import { randomBytes } from "node:crypto";
import { text } from "./formats.js";
import { type Env, flag, integer, ratio } from "./parse.js";
import { section } from "./section.js";

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

/** The variables of the token cache and its refresh policy. */
export const TOKENS = section(
  "Token cache",
  "How tokens are cached and when a cached token is replaced. Both windows are `max(seconds, ratio × lifetime)`, never more than half the lifetime (refresh-ahead) and a quarter of it (hard margin); with the defaults, a one-hour Aspose token is refreshed in the background in its last 15 minutes and waited for only in its last 6, a one-minute token in its last 30 and 15 seconds. The whole policy is in [caching](caching.md).",
  {
    TOKEN_CACHE: flag({
      default: true,
      does: "Whether tokens are cached.",
      details:
        "`off` stores nothing: every request goes upstream, though concurrent requests for the same credentials still share one call.",
    }),
    TOKEN_CACHE_MAX_ENTRIES: integer({
      min: 1,
      max: 10_000_000,
      default: 10_000,
      does: "How many tokens this replica keeps in memory (least recently used first out); with a shared store, the size of each replica's local tier in front of Redis.",
      details: "The bench measured about 1.6 KB of live heap per cached token ([benchmarks](benchmarks.md)).",
    }),
    // A per-process random key is the safe default: credential keys are then meaningless outside
    // this process. Replicas that share a cache (Redis) must share TOKEN_CACHE_KEY.
    TOKEN_CACHE_KEY: text({
      format: {
        means: "at least 32 random bytes, base64-encoded",
        read: (value) => {
          const key = Buffer.from(value, "base64");
          return key.length >= 32 ? key : undefined;
        },
      },
      secret: true,
      unset: "a random key per process",
      does: "The server key that keys every cache key (HMAC-SHA256) and salts the encryption of tokens in Redis; make one with `openssl rand -base64 32`.",
      details:
        "Required with a shared store (`REDIS_URL`, `REDIS_CLUSTER_NODES` or `REDIS_SENTINELS`), and the same on every replica: otherwise a replica could read none of the others' entries. Changing it empties the shared cache in effect.",
    }),
    TOKEN_REFRESH_MARGIN_SECONDS: integer({
      min: 0,
      max: 86_400,
      default: 60,
      does: "The hard margin's floor: inside `max(this, TOKEN_REFRESH_MARGIN_RATIO × lifetime)` of its expiry, at most a quarter of the lifetime, a request waits for a fresh token instead of being served the cached one.",
      details:
        "If that fetch fails with an upstream fault, the cached token is served (`stale: true`) while it is still valid for the caller. The quarter-lifetime cap keeps a token shorter than this floor from being refetched on every request.",
    }),
    TOKEN_REFRESH_MARGIN_RATIO: ratio({
      default: 0.1,
      does: "The hard margin as a share of the token's lifetime; above 0.25 it is held to a quarter.",
    }),
    // Defaults: five minutes, or a quarter of the lifetime (15 minutes of Aspose's one-hour tokens):
    // time for several background attempts, spaced a tenth of the lifetime apart, before the hard margin.
    // Never more than half the lifetime (refresh-policy.ts): a token shorter than the floor would
    // otherwise be refreshed on every request.
    TOKEN_REFRESH_AHEAD_SECONDS: integer({
      min: 0,
      max: 86_400,
      default: 300,
      does: "The refresh-ahead window's floor: inside `max(this, TOKEN_REFRESH_AHEAD_RATIO × lifetime)` of its expiry, at most half the lifetime, a cached token is served at once and one background refresh starts.",
      details:
        "The half-lifetime cap means a credential is refreshed at most once per half-lifetime, whatever `expires_in` Aspose sends (a 60 s token: about twice a minute, never once per request).",
    }),
    TOKEN_REFRESH_AHEAD_RATIO: ratio({
      default: 0.25,
      does: "The refresh-ahead window as a share of the token's lifetime; above 0.5 it is held to half.",
      details:
        "A quarter leaves room for several background attempts (a failed one is retried after a tenth of the lifetime, 1 to 60 s) before the hard margin.",
    }),
  },
);

const v = TOKENS.variables;

/** The tokens section from the environment. */
export function tokensConfig(env: Env): TokensConfig {
  const key = v.TOKEN_CACHE_KEY.read(env);
  return {
    cacheEnabled: v.TOKEN_CACHE.read(env),
    maxEntries: v.TOKEN_CACHE_MAX_ENTRIES.read(env),
    ...(key === undefined
      ? { key: randomBytes(32), keySource: "random" as const }
      : { key, keySource: "explicit" as const }),
    refreshMarginMinSeconds: v.TOKEN_REFRESH_MARGIN_SECONDS.read(env),
    refreshMarginRatio: v.TOKEN_REFRESH_MARGIN_RATIO.read(env),
    refreshAheadSeconds: v.TOKEN_REFRESH_AHEAD_SECONDS.read(env),
    refreshAheadRatio: v.TOKEN_REFRESH_AHEAD_RATIO.read(env),
  };
}
