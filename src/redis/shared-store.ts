import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { SharedStoreStatus } from "../app.js";
import type { Config } from "../config.js";
import { type AttemptLimiter, type LockoutPolicy, lockoutPolicy } from "../limits/attempt-limiter.js";
import { MemoryAttemptLimiter } from "../limits/memory-attempt-limiter.js";
import type { TokenCache } from "../tokens/token-cache.js";
import type { Clock } from "../tokens/types.js";
import { RedisAttemptLimiter } from "./redis-attempt-limiter.js";
import { RedisHealth, type SharedStoreObserver } from "./redis-health.js";
import { RedisTokenCache } from "./redis-token-cache.js";
import { TokenSealer } from "./token-sealer.js";

/** What the shared store needs from ServiceMetrics. */
export interface SharedStoreMetrics extends SharedStoreObserver {
  lockout(subject: "client" | "address"): void;
  sharedLockWait(): void;
}

export interface SharedStoreOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: SharedStoreMetrics;
  readonly clock?: Clock;
}

/** The Redis-backed parts handed to createApp, and the connection they share. */
export interface SharedStore {
  /** Undefined when TOKEN_CACHE=off: nothing is stored, the in-memory single-flight stays. */
  readonly tokenCache: TokenCache | undefined;
  readonly limiter: AttemptLimiter;
  readonly status: SharedStoreStatus;
  /** Closes the connection (after the app has shut down). */
  close(): Promise<void>;
}

// Slack on top of a whole upstream call for the lock and reservation lifetimes: the lockout check and
// reservation before the call are Redis round trips too.
const LOCK_SLACK_MS = 2_000;
const PROBE_INTERVAL_MS = 1_000;

/** Connects to REDIS_URL and builds the shared token cache and attempt limiter on it. */
export function connectSharedStore(options: SharedStoreOptions): SharedStore {
  const { config, logger, metrics } = options;
  const clock = options.clock ?? Date.now;
  if (config.redis.url === undefined) throw new Error("connectSharedStore needs REDIS_URL");
  const timeoutMs = config.redis.commandTimeoutMs;
  const client = new Redis(config.redis.url, {
    // Every command is bounded, and none waits for a connection: a Redis outage costs a request at
    // most one timeout before the replica falls back to local state (then none, see RedisHealth).
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(1_000, timeoutMs * 4),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    autoResendUnfulfilledCommands: false,
    // Reconnect quickly and keep trying: sharing resumes by itself within about a second of Redis
    // returning.
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
    connectionName: "aspose-token-subgraph",
  });
  const health = new RedisHealth(client, {
    logger,
    observer: metrics,
    probeIntervalMs: PROBE_INTERVAL_MS,
    tripAfterMs: Math.max(1_000, timeoutMs * 4),
  });
  const lifetimeMs = config.aspose.totalTimeoutMs + LOCK_SLACK_MS;
  // The same policy createApp gives the in-memory limiter.
  const policy: LockoutPolicy = lockoutPolicy(config.lockout);
  const onLockout = (subject: "client" | "address"): void => metrics.lockout(subject);
  const limiter = new RedisAttemptLimiter({
    health,
    keyPrefix: config.redis.keyPrefix,
    policy,
    clock,
    reservationTtlMs: lifetimeMs,
    fallback: new MemoryAttemptLimiter(policy, clock, onLockout),
    onLockout,
  });
  const tokenCache = config.tokenCache.enabled
    ? new RedisTokenCache({
        health,
        sealer: new TokenSealer(config.tokenCache.key),
        keyPrefix: config.redis.keyPrefix,
        maxEntries: config.tokenCache.maxEntries,
        lockTtlMs: lifetimeMs,
        clock,
        onLockWait: () => metrics.sharedLockWait(),
      })
    : undefined;
  return {
    tokenCache,
    limiter,
    status: health,
    async close() {
      health.close();
      try {
        if (client.status === "ready") await client.quit();
        else client.disconnect();
      } catch {
        client.disconnect();
      }
    },
  };
}
