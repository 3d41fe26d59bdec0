/** The shapes of the store section: which shared store, and how to reach and trust it. */

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

export const EVICTING_POLICY_ACTIONS = ["warn", "refuse"] as const;

/**
 * What to do when the server's maxmemory-policy can evict the lockout counters (allkeys-*): warn (a
 * log line, /readyz "degraded", the metric), or refuse to keep them there (also each replica keeps
 * its lockout counters locally only until the policy is safe).
 */
export type EvictingPolicyAction = (typeof EVICTING_POLICY_ACTIONS)[number];

interface SharedStoreCommon {
  readonly keyPrefix: string;
  /** The longest any request waits on Redis in one go (REDIS_TIMEOUT_MS). */
  readonly commandTimeoutMs: number;
  readonly evictingPolicy: EvictingPolicyAction;
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
