/**
 * The one place that turns Config into the stores the token service runs on: the token store, the
 * attempt limiter, the known-good credentials (verifiers) and Aspose's per-credential cool-downs (read
 * by the upstream's CredentialCooldown), in memory or shared through Redis (one
 * server, a Redis Cluster, or a primary found through Sentinel: only the connection differs, see
 * redis/connect.ts). main.ts, the dev server and the tests all reach it through createApp, so every
 * mode is wired the same way.
 */
import type { Logger } from "pino";
import type { Config } from "../config/index.js";
import { type AttemptLimiter, type LockoutSubject, lockoutPolicy } from "../limits/attempt-limiter.js";
import type { VerifierStore } from "../limits/verifier-store.js";
import type { CooldownStore } from "../tokens/cooldown-store.js";
import type { TokenStore } from "../tokens/ports.js";
import type { Clock } from "../tokens/types.js";
import { MemoryAttemptLimiter } from "./memory/memory-attempt-limiter.js";
import { MemoryCooldownStore } from "./memory/memory-cooldown-store.js";
import { MemoryTokenStore } from "./memory/memory-token-store.js";
import { MemoryVerifierStore } from "./memory/memory-verifier-store.js";
import { connectRedis, type SharedStoreReporter } from "./redis/connect.js";
import { RedisAttemptLimiter } from "./redis/redis-attempt-limiter.js";
import { RedisCooldownStore } from "./redis/redis-cooldown-store.js";
import { RedisTokenStore } from "./redis/redis-token-store.js";
import { RedisVerifierStore } from "./redis/redis-verifier-store.js";
import { TokenSealer } from "./redis/token-sealer.js";

/** What the stores report to metrics. */
export interface StoreMetrics {
  readonly sharedStore: SharedStoreReporter;
  lockout(subject: LockoutSubject): void;
}

export interface StoresOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: StoreMetrics;
  readonly clock: Clock;
}

/** The stores built from Config, and how to report on and release them. */
export interface Stores {
  readonly tokenStore: TokenStore;
  readonly limiter: AttemptLimiter;
  readonly verifiers: VerifierStore;
  /** Aspose's per-credential 429 cool-downs. */
  readonly cooldowns: CooldownStore;
  /**
   * Each shared store's state for /readyz ("up", "degraded" with its reasons, or "down"; and its
   * topology: standalone, cluster or sentinel); empty when everything is in memory. A degraded or down
   * store never makes the replica unready: it serves from local state.
   */
  readiness(): Readonly<Record<string, string>>;
  /** Releases timers and connections, after the app has stopped serving. */
  close(): Promise<void>;
}

// Slack on top of a whole upstream call for shared claim and reservation lifetimes: the lockout check
// and reservation before the call are round trips too.
const SHARED_SLACK_MS = 2_000;

// A fetch lock is a lease renewed every third of it while the fetch lives: a replica that dies while
// fetching frees it within this long. Several command timeouts, so one slow renewal does not lose it.
const MIN_LOCK_LEASE_MS = 3_000;
const LEASE_TIMEOUTS = 6;

// Verifiers held per process: only accepted credentials add one (about 100 bytes each), so this bounds
// memory without any attacker being able to push an owner's verifier out.
const MAX_VERIFIERS = 100_000;

// Cool-downs held per process: each one took a 429 from Aspose (several failed upstream calls), about
// 100 bytes each; an evicted one costs one more call to Aspose for that pair.
const MAX_COOLDOWNS = 50_000;

/** Builds the token store and attempt limiter that Config asks for. */
export function createStores(options: StoresOptions): Stores {
  const { config, metrics, clock } = options;
  const policy = lockoutPolicy(config.limits.lockout);
  const onLockout = (subject: LockoutSubject): void => metrics.lockout(subject);
  const memoryLimiter = (): MemoryAttemptLimiter => new MemoryAttemptLimiter(policy, clock, onLockout);
  const verifierTtlMs = config.limits.verifierTtlSeconds * 1000;
  const memoryVerifiers = (): MemoryVerifierStore =>
    new MemoryVerifierStore({ ttlMs: verifierTtlMs, clock, maxEntries: MAX_VERIFIERS });
  const memoryCooldowns = (): MemoryCooldownStore =>
    new MemoryCooldownStore({ clock, maxEntries: MAX_COOLDOWNS });
  // TOKEN_CACHE=off stores nothing in any mode; single flight still applies.
  const { cacheEnabled, maxEntries } = config.tokens;
  const memoryTokens = (): MemoryTokenStore =>
    new MemoryTokenStore({ maxEntries: cacheEnabled ? maxEntries : 0, clock });

  const store = config.store;
  if (store.kind === "memory") {
    const tokenStore = memoryTokens();
    const limiter = memoryLimiter();
    const verifiers = memoryVerifiers();
    const cooldowns = memoryCooldowns();
    return {
      tokenStore,
      limiter,
      verifiers,
      cooldowns,
      readiness: () => ({}),
      close: async () => {
        await Promise.all([tokenStore.close(), limiter.close(), verifiers.close(), cooldowns.close()]);
      },
    };
  }

  const health = connectRedis(store, options.logger.child({ component: "redis" }), metrics.sharedStore);
  const sharedLifetimeMs = sharedLifetime(config);
  const limiter = new RedisAttemptLimiter({
    health,
    keyPrefix: store.keyPrefix,
    policy,
    clock,
    reservationTtlMs: sharedLifetimeMs,
    local: memoryLimiter(),
    onLockout,
  });
  const verifiers = new RedisVerifierStore({
    health,
    keyPrefix: store.keyPrefix,
    ttlMs: verifierTtlMs,
    clock,
    local: memoryVerifiers(),
  });
  const cooldowns = new RedisCooldownStore({
    health,
    keyPrefix: store.keyPrefix,
    clock,
    local: memoryCooldowns(),
  });
  const tokenStore = cacheEnabled
    ? new RedisTokenStore({
        health,
        sealer: new TokenSealer(config.tokens.key),
        keyPrefix: store.keyPrefix,
        maxEntries,
        leaseMs: Math.max(MIN_LOCK_LEASE_MS, store.commandTimeoutMs * LEASE_TIMEOUTS),
        clock,
      })
    : memoryTokens();
  return {
    tokenStore,
    limiter,
    verifiers,
    cooldowns,
    readiness: () => health.readiness(),
    close: async () => {
      await Promise.all([tokenStore.close(), limiter.close(), verifiers.close(), cooldowns.close()]);
      health.close();
      const client = health.client;
      try {
        if (client.status === "ready") await client.quit();
      } catch {
        // Closed below either way.
      } finally {
        // Also after a clean QUIT: disconnect() is what stops a Sentinel client's failover detector
        // (its own connections to the sentinels), which QUIT leaves reconnecting.
        client.disconnect();
      }
    },
  };
}

/**
 * The lifetime of a shared claim or attempt reservation: a whole upstream call plus slack. It is also
 * how long a caller waits for another replica's fetch.
 */
export function sharedLifetime(config: Config): number {
  return config.upstream.totalTimeoutMs + SHARED_SLACK_MS;
}
