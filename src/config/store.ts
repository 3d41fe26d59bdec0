import { ConfigError, type Env, integer, optionalText, text } from "./parse.js";

/** Where tokens and lockout counters live: this process (memory) or a Redis shared by replicas. */
export type StoreConfig =
  | { readonly kind: "memory" }
  | {
      readonly kind: "redis";
      /** May hold a password: never logged. */
      readonly url: string;
      readonly keyPrefix: string;
      readonly commandTimeoutMs: number;
    };

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

/** REDIS_* */
export function storeConfig(env: Env): StoreConfig {
  const url = redisUrl(env);
  const keyPrefix = text(env, "REDIS_KEY_PREFIX", "aspose-token:");
  const commandTimeoutMs = integer(env, "REDIS_TIMEOUT_MS", 250, 10, 10_000);
  if (url === undefined) return { kind: "memory" };
  return { kind: "redis", url, keyPrefix, commandTimeoutMs };
}
