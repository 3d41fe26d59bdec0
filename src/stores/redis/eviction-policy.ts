/**
 * Redis's own eviction against the lockout counters. The limiter's keys carry no TTL (their entries
 * expire inside them), so `noeviction` and every `volatile-*` policy leave them alone; an `allkeys-*`
 * policy may evict them under memory pressure, and with them the lockouts. Read where the server
 * allows CONFIG GET (managed services often do not: the docs say what to set there).
 */
import { Cluster, type Redis } from "ioredis";
import type { Logger } from "pino";
import type { EvictingPolicyAction } from "../../config/index.js";
import { runBounded, type SharedClient } from "./bounded-command.js";
import type { RedisHealth } from "./redis-health.js";
import { isReplyError } from "./store-failures.js";

/** True for a maxmemory-policy that can evict keys without a TTL. */
export function evictsLockouts(policy: string): boolean {
  return policy.startsWith("allkeys-");
}

function masters(client: SharedClient): Redis[] {
  return client instanceof Cluster ? client.nodes("master") : [client];
}

/**
 * Reads every master's maxmemory-policy once the connection is ready: an evicting one is logged and
 * reported as a degradation; with `refuse`, the limiter also stops using Redis (its counters stay
 * local, so no lockout is lost to an eviction) until a check finds a safe policy.
 */
export async function checkEvictionPolicy(
  health: RedisHealth,
  action: EvictingPolicyAction,
  logger: Logger,
  deadlineMs: number,
): Promise<void> {
  const policies = new Set<string>();
  try {
    for (const node of masters(health.client)) {
      const reply = await runBounded(node, deadlineMs, (send) => send("config", ["get", "maxmemory-policy"]));
      const policy = Array.isArray(reply) ? reply[1] : undefined;
      if (typeof policy === "string") policies.add(policy);
    }
  } catch (error) {
    if (isReplyError(error))
      logger.info(
        "Cannot read Redis's maxmemory-policy (CONFIG GET is not allowed here): set it to noeviction or a volatile-* policy, or lockouts may be evicted",
      );
    return;
  }
  const evicting = [...policies].filter(evictsLockouts);
  const unsafe = evicting.length > 0;
  health.setDegraded("store", unsafe ? "evicting_policy" : undefined);
  health.withhold("limiter", unsafe && action === "refuse");
  if (!unsafe) return;
  logger.warn(
    { maxmemoryPolicy: evicting[0], action },
    action === "refuse"
      ? "Redis's maxmemory-policy can evict lockout counters: they are kept in this replica only (REDIS_EVICTING_POLICY=refuse); set noeviction or a volatile-* policy"
      : "Redis's maxmemory-policy can evict lockout counters: set noeviction or a volatile-* policy",
  );
}

/** The server's evicted_keys counter, summed over the masters; undefined when it cannot be read. */
export async function evictedKeys(client: SharedClient, deadlineMs: number): Promise<number | undefined> {
  let total = 0;
  try {
    for (const node of masters(client)) {
      if (node.status !== "ready") return undefined;
      const info = await runBounded(node, deadlineMs, (send) => send("info", ["stats"]));
      const count = typeof info === "string" ? /^evicted_keys:(\d+)/m.exec(info)?.[1] : undefined;
      if (count === undefined) return undefined;
      total += Number(count);
    }
  } catch {
    return undefined;
  }
  return total;
}
