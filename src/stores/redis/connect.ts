import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { StoreConfig } from "../../config/index.js";
import { RedisHealth, type SharedStoreObserver } from "./redis-health.js";

type RedisSettings = Extract<StoreConfig, { kind: "redis" }>;

const PROBE_INTERVAL_MS = 1_000;

/** A Redis connection for the shared store, with its health watch. */
export function connectRedis(
  settings: RedisSettings,
  logger: Logger,
  observer: SharedStoreObserver,
): RedisHealth {
  const timeoutMs = settings.commandTimeoutMs;
  const client = new Redis(settings.url, {
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
  return new RedisHealth(client, {
    logger,
    observer,
    probeIntervalMs: PROBE_INTERVAL_MS,
    tripAfterMs: Math.max(1_000, timeoutMs * 4),
  });
}
