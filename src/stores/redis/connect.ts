import type { ConnectionOptions } from "node:tls";
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from "ioredis";
import type { Logger } from "pino";
import type { RedisTls, SharedStoreConfig } from "../../config/index.js";
import { guardClusterNode } from "./bounded-command.js";
import { checkEvictionPolicy, evictedKeys } from "./eviction-policy.js";
import { RedisHealth, type SharedClient, type SharedStoreObserver } from "./redis-health.js";

// How often the health watch looks at a suspect or ended connection.
const PROBE_INTERVAL_MS = 250;
// A failure of one cause (a full Redis, a missing permission) is logged at most once per interval.
const FAILURE_LOG_INTERVAL_MS = 5_000;

/** What connectRedis reports to besides the health observer: the server's eviction counter. */
export interface SharedStoreReporter extends SharedStoreObserver {
  watchEvictedKeys(read: () => Promise<number | undefined>): void;
}

// Reconnect quickly and keep trying: sharing resumes by itself within about a second of Redis (or a
// promoted replica, or a cluster's new slot owner) answering again.
const backOff = (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1_000);

/**
 * A connection to the shared store for the topology Config names, with its health watch. Whatever the
 * topology, every command is bounded and none waits for a connection: an outage or a failover costs a
 * request at most one timeout before the replica falls back to local state (then none, see RedisHealth).
 */
export function connectRedis(
  settings: SharedStoreConfig,
  logger: Logger,
  observer: SharedStoreReporter,
): RedisHealth {
  const timeoutMs = settings.commandTimeoutMs;
  const client = makeClient(settings);
  const health = new RedisHealth(client, {
    topology: settings.kind === "redis" ? "standalone" : settings.kind,
    logger,
    observer,
    probeIntervalMs: PROBE_INTERVAL_MS,
    tripAfterMs: Math.max(1_000, timeoutMs * 4),
    deadlineMs: timeoutMs,
    logIntervalMs: FAILURE_LOG_INTERVAL_MS,
  });
  health.onReady(() => void checkEvictionPolicy(health, settings.evictingPolicy, logger, timeoutMs));
  observer.watchEvictedKeys(() => evictedKeys(client, timeoutMs));
  return health;
}

/** The ioredis client for `settings`. */
function makeClient(settings: SharedStoreConfig): SharedClient {
  if (settings.kind === "cluster") {
    const cluster = new Cluster([...settings.nodes], clusterOptions(settings));
    cluster.on("+node", guardClusterNode);
    return cluster;
  }
  if (settings.kind === "sentinel") return new Redis(sentinelOptions(settings));
  return new Redis(settings.url, { ...nodeOptions(settings.commandTimeoutMs, settings.tls), ...failover });
}

/** What every connection to a data node shares, whichever topology it belongs to. */
function nodeOptions(timeoutMs: number, tls: RedisTls | undefined) {
  return {
    // Only a backstop: every command runs inside RedisHealth's own deadline (runBounded), which
    // lets a reply already received win over a timer that a busy event loop fires late.
    commandTimeout: Math.max(1_000, timeoutMs * 4),
    connectTimeout: Math.max(1_000, timeoutMs * 4),
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    // The ready check is an INFO, which an ACL user may lack (ioredis then writes a warning to
    // stderr); a server still loading answers LOADING, a refusal like any other (local state).
    enableReadyCheck: false,
    connectionName: "aspose-token-subgraph",
    ...(tls === undefined ? {} : { tls: tlsOptions(tls) }),
  } satisfies RedisOptions;
}

// A primary demoted by a failover answers writes with READONLY while this connection still points at
// it (a managed primary endpoint whose DNS has moved, or Sentinel's switch not yet seen): drop the
// connection so the next one finds the new primary. The command itself fails and falls back locally.
const failover = {
  enableOfflineQueue: false,
  retryStrategy: backOff,
  reconnectOnError: (error: Error) => error.message.startsWith("READONLY"),
} satisfies RedisOptions;

function tlsOptions(tls: RedisTls): ConnectionOptions {
  return tls.ca === undefined ? {} : { ca: tls.ca };
}

type ClusterSettings = Extract<SharedStoreConfig, { kind: "cluster" }>;
type SentinelSettings = Extract<SharedStoreConfig, { kind: "sentinel" }>;

export function clusterOptions(settings: ClusterSettings): ClusterOptions {
  const timeoutMs = settings.commandTimeoutMs;
  return {
    enableOfflineQueue: false,
    clusterRetryStrategy: backOff,
    // The slot map is refreshed on MOVED and every few seconds; a refresh that hangs must not hold the
    // reconnection up for long.
    slotsRefreshTimeout: Math.max(1_000, timeoutMs * 4),
    slotsRefreshInterval: 5_000,
    // Redirections and retries through a failover are cut off at the caller's deadline: a command
    // withdrawn by RedisHealth is never sent again (guardClusterNode).
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 50,
    // Managed clusters (ElastiCache) give hostnames whose TLS certificates name them: connect by the
    // name, so the certificate is checked against it, not against a resolved address.
    ...(settings.tls === undefined ? {} : { dnsLookup: (address, callback) => callback(null, address) }),
    redisOptions: {
      ...nodeOptions(timeoutMs, settings.tls),
      username: settings.auth.username,
      password: settings.auth.password,
    },
  };
}

export function sentinelOptions(settings: SentinelSettings): RedisOptions {
  const timeoutMs = settings.commandTimeoutMs;
  const tls = settings.tls === undefined ? undefined : tlsOptions(settings.tls);
  return {
    ...nodeOptions(timeoutMs, settings.tls),
    ...failover,
    sentinels: settings.sentinels.map((node) => ({ host: node.host, port: node.port })),
    name: settings.masterName,
    role: "master",
    username: settings.auth.username,
    password: settings.auth.password,
    sentinelUsername: settings.sentinelAuth.username,
    sentinelPassword: settings.sentinelAuth.password,
    sentinelRetryStrategy: backOff,
    // The failover detector's connections to the sentinels reconnect by this; ioredis's default
    // would not stop either, only back off to 2 s.
    sentinelReconnectStrategy: backOff,
    sentinelCommandTimeout: Math.max(1_000, timeoutMs * 4),
    // Sentinel announces a promotion (+switch-master): reconnect to the new primary at once rather
    // than on the first failed write.
    failoverDetector: true,
    ...(tls === undefined ? {} : { enableTLSForSentinelMode: true, sentinelTLS: tls }),
  };
}
