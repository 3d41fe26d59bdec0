import { readFileSync } from "node:fs";
import { ConfigError, type Env, flag, integer, list, optionalText, text } from "./parse.js";

/** One Redis server's address (a cluster node or a sentinel). */
export interface RedisNode {
  readonly host: string;
  readonly port: number;
}

/** TLS for the Redis connections: on, optionally with a private CA (REDIS_TLS_CA_FILE). */
export interface RedisTls {
  /** PEM bundle to trust instead of Node's public roots; undefined: the public roots. */
  readonly ca: Buffer | undefined;
}

/** Who the service is to the Redis servers (ACL user and password); never logged. */
export interface RedisAuth {
  readonly username: string | undefined;
  readonly password: string | undefined;
}

interface SharedStoreCommon {
  readonly keyPrefix: string;
  readonly commandTimeoutMs: number;
}

/**
 * Where tokens and lockout counters live: this process (memory), one Redis (REDIS_URL), a Redis
 * Cluster (REDIS_CLUSTER_NODES) or a primary found through Sentinel (REDIS_SENTINELS).
 */
export type StoreConfig =
  | { readonly kind: "memory" }
  | (SharedStoreCommon & {
      readonly kind: "redis";
      /** May hold a password: never logged. Carries its own auth and TLS (rediss://). */
      readonly url: string;
      /** With rediss:// only: a private CA. */
      readonly tls: RedisTls | undefined;
    })
  | (SharedStoreCommon & {
      readonly kind: "cluster";
      /** Start-up nodes: the rest of the cluster is discovered from them. */
      readonly nodes: readonly RedisNode[];
      readonly auth: RedisAuth;
      readonly tls: RedisTls | undefined;
    })
  | (SharedStoreCommon & {
      readonly kind: "sentinel";
      readonly sentinels: readonly RedisNode[];
      /** The monitored primary's name (REDIS_SENTINEL_MASTER). */
      readonly masterName: string;
      /** For the data nodes (the primary). */
      readonly auth: RedisAuth;
      /** For the sentinels themselves, which Redis authenticates separately. */
      readonly sentinelAuth: RedisAuth;
      /** For the data nodes and the sentinels alike. */
      readonly tls: RedisTls | undefined;
    });

/** The shared kinds of StoreConfig: the ones backed by Redis. */
export type SharedStoreConfig = Exclude<StoreConfig, { kind: "memory" }>;

// Settings that only make sense for a topology given by separate variables: REDIS_URL carries its own
// user, password and TLS (redis://user:pass@host, rediss://), so one place says how to connect.
// REDIS_TLS=off is the default written out (.env.example), so only "on" counts as set.
const NOT_WITH_URL = ["REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS"] as const;
const SENTINEL_ONLY = [
  "REDIS_SENTINEL_MASTER",
  "REDIS_SENTINEL_USERNAME",
  "REDIS_SENTINEL_PASSWORD",
] as const;

/** REDIS_* */
export function storeConfig(env: Env): StoreConfig {
  const keyPrefix = text(env, "REDIS_KEY_PREFIX", "aspose-token:");
  // Braces would start a hash tag of their own: the keys one script touches could then land in
  // different cluster slots (CROSSSLOT). Keys keep the prefix first so ACL key patterns (~prefix*) work.
  if (/[{}]/.test(keyPrefix)) throw new ConfigError("REDIS_KEY_PREFIX must not contain { or }");
  const commandTimeoutMs = integer(env, "REDIS_TIMEOUT_MS", 250, 10, 10_000);
  const common = { keyPrefix, commandTimeoutMs };

  const given = (["REDIS_URL", "REDIS_CLUSTER_NODES", "REDIS_SENTINELS"] as const).filter(
    (name) => optionalText(env, name) !== undefined,
  );
  if (given.length > 1)
    throw new ConfigError(
      `Set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (got ${given.join(", ")})`,
    );
  const kind = given[0];
  const isSet = (name: string): boolean =>
    name === "REDIS_TLS" ? flag(env, name, false) : optionalText(env, name) !== undefined;
  if (kind !== "REDIS_SENTINELS") {
    for (const name of SENTINEL_ONLY) {
      if (optionalText(env, name) !== undefined)
        throw new ConfigError(`${name} is only read with REDIS_SENTINELS`);
    }
  }
  if (kind === undefined) {
    for (const name of [...NOT_WITH_URL, "REDIS_TLS_CA_FILE"]) {
      if (isSet(name))
        throw new ConfigError(
          `${name} needs a shared store: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS`,
        );
    }
    return { kind: "memory" };
  }
  if (kind === "REDIS_URL") {
    for (const name of NOT_WITH_URL) {
      if (isSet(name))
        throw new ConfigError(
          `${name} is not read with REDIS_URL: put the user, password or rediss:// in the URL`,
        );
    }
    const url = redisUrl(env);
    const secure = url.startsWith("rediss:");
    const ca = caFile(env, secure, "REDIS_URL must be a rediss:// URL for REDIS_TLS_CA_FILE");
    return { kind: "redis", url, tls: secure ? { ca } : undefined, ...common };
  }
  const auth = {
    username: optionalText(env, "REDIS_USERNAME"),
    password: optionalText(env, "REDIS_PASSWORD"),
  };
  const secure = flag(env, "REDIS_TLS", false);
  const ca = caFile(env, secure, "REDIS_TLS_CA_FILE needs REDIS_TLS=on");
  const tls = secure ? { ca } : undefined;
  if (kind === "REDIS_CLUSTER_NODES")
    return { kind: "cluster", nodes: nodes(env, "REDIS_CLUSTER_NODES"), auth, tls, ...common };
  const masterName = optionalText(env, "REDIS_SENTINEL_MASTER");
  if (masterName === undefined)
    throw new ConfigError(
      "REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS (the monitored primary's name)",
    );
  const sentinelAuth = {
    username: optionalText(env, "REDIS_SENTINEL_USERNAME"),
    password: optionalText(env, "REDIS_SENTINEL_PASSWORD"),
  };
  return {
    kind: "sentinel",
    sentinels: nodes(env, "REDIS_SENTINELS"),
    masterName,
    auth,
    sentinelAuth,
    tls,
    ...common,
  };
}

function redisUrl(env: Env): string {
  const raw = optionalText(env, "REDIS_URL") ?? "";
  try {
    const url = new URL(raw);
    if (url.protocol !== "redis:" && url.protocol !== "rediss:") throw new Error("protocol");
  } catch {
    // The URL may hold a password: name the variable, never echo the value.
    throw new ConfigError("REDIS_URL must be a redis:// or rediss:// URL");
  }
  return raw;
}

/** `host:port,host:port` ([v6]:port for IPv6). */
function nodes(env: Env, name: string): RedisNode[] {
  const entries = list(env, name);
  if (entries.length === 0) throw new ConfigError(`${name} must be a comma-separated list of host:port`);
  return entries.map((entry) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    if (host === undefined || !(port >= 1 && port <= 65_535))
      throw new ConfigError(`${name} must be a comma-separated list of host:port`);
    return { host, port };
  });
}

function caFile(env: Env, tlsOn: boolean, withoutTls: string): Buffer | undefined {
  const path = optionalText(env, "REDIS_TLS_CA_FILE");
  if (path === undefined) return undefined;
  if (!tlsOn) throw new ConfigError(withoutTls);
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch {
    throw new ConfigError("REDIS_TLS_CA_FILE must name a readable PEM file");
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new ConfigError("REDIS_TLS_CA_FILE must hold PEM certificates");
  return pem;
}
