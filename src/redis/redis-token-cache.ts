import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { LRUCache } from "lru-cache";
import { SingleFlight } from "../tokens/single-flight.js";
import type { ObtainRequest, ObtainResult, TokenCache } from "../tokens/token-cache.js";
import type { Clock, IssuedToken } from "../tokens/types.js";
import { LuaScript } from "./lua-script.js";
import type { RedisHealth } from "./redis-health.js";
import type { TokenSealer } from "./token-sealer.js";

export interface RedisTokenCacheOptions {
  readonly health: RedisHealth;
  readonly sealer: TokenSealer;
  /** Prepended to every key (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  /** Bound of the local tier in front of Redis (TOKEN_CACHE_MAX_ENTRIES); at least 1. */
  readonly maxEntries: number;
  /**
   * Lifetime of the cross-replica fetch lock, and so the longest a replica waits for another one's
   * fetch. Must cover a whole upstream call (ASPOSE_TOTAL_TIMEOUT_MS) so a slow holder is not doubled.
   */
  readonly lockTtlMs: number;
  /** For token lifetimes (entry TTLs); lock waits use real time, as Redis does. */
  readonly clock: Clock;
  /** Called when a fetch starts waiting for another replica's lock (metrics). */
  readonly onLockWait?: () => void;
}

interface StoredEntry {
  readonly sealed: string;
  /** Undefined when the entry does not open for these credentials. */
  readonly token: IssuedToken | undefined;
}

type AcquireReply =
  | { readonly kind: "stored"; readonly sealed: string }
  | { readonly kind: "acquired" }
  | { readonly kind: "held" };

// One round trip that is both the double-check and the lock: an entry written since this caller last
// looked (anything but `seen`) is returned; otherwise the lock is taken if free. Because the holder
// writes the entry before it releases the lock, a caller that gets the lock can trust that no fresh
// entry was missed. A lock already held by this owner counts as taken: an earlier attempt may have
// taken it and timed out before its reply arrived.
const ACQUIRE = new LuaScript(
  `local stored = redis.call('GET', KEYS[1])
if stored and stored ~= ARGV[3] then return {'stored', stored} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {'acquired'} end
if redis.call('GET', KEYS[2]) == ARGV[1] then return {'acquired'} end
return {'held'}`,
  2,
);

// Deletes the lock only while this caller still owns it: past its TTL it may be someone else's.
const RELEASE = new LuaScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
  1,
);

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

/**
 * The token cache shared by replicas through Redis, with a local tier in front of it.
 *
 * Lookup: the local tier; then Redis (sealed entries, see TokenSealer); then one fetch across all
 * replicas: locally concurrent callers share one flight, and across replicas the flight that takes the
 * Redis lock fetches while the others poll for its entry, bounded by the lock's TTL (a crashed holder's
 * lock expires and another replica proceeds). A token refreshed on one replica reaches the others when
 * their local copy stops being usable for a caller. When Redis is down or slow, every step falls back
 * to local state: tokens are still served, only sharing pauses.
 */
export class RedisTokenCache implements TokenCache {
  readonly #health: RedisHealth;
  readonly #sealer: TokenSealer;
  readonly #prefix: string;
  readonly #lockTtlMs: number;
  readonly #clock: Clock;
  readonly #onLockWait: (() => void) | undefined;
  readonly #local: LRUCache<string, IssuedToken>;
  readonly #reads = new SingleFlight<StoredEntry | undefined>();
  readonly #flights = new SingleFlight<ObtainResult>();

  constructor(options: RedisTokenCacheOptions) {
    this.#health = options.health;
    this.#sealer = options.sealer;
    this.#prefix = options.keyPrefix;
    this.#lockTtlMs = options.lockTtlMs;
    this.#clock = options.clock;
    this.#onLockWait = options.onLockWait;
    this.#local = new LRUCache<string, IssuedToken>({
      max: options.maxEntries,
      // As in MemoryTokenCache: expiry follows the injected clock, no purge timers.
      perf: { now: options.clock },
      ttlResolution: 0,
    });
  }

  async obtain(request: ObtainRequest): Promise<ObtainResult> {
    if (!request.forceRefresh) {
      const local = this.#local.get(request.key);
      if (local !== undefined && request.isUsable(local)) return { token: local, source: "cache" };
    }
    // Concurrent callers for one key share one GET (their credentials are the same: the key says so).
    const stored = await this.#reads.run(request.key, () => this.#read(request)).promise;
    if (!request.forceRefresh && stored?.token !== undefined && request.isUsable(stored.token)) {
      this.#remember(request.key, stored.token);
      return { token: stored.token, source: "cache" };
    }
    const flight = this.#flights.run(request.key, () => this.#fetchShared(request, stored?.sealed));
    const result = await flight.promise;
    return flight.leader ? result : { token: result.token, source: "joined" };
  }

  size(): number {
    return this.#local.size;
  }

  /** Empties the local tier; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    this.#local.clear();
  }

  async #read(request: ObtainRequest): Promise<StoredEntry | undefined> {
    const step = await this.#health.attempt("token_read", (client) =>
      client.get(this.#tokenKey(request.key)),
    );
    if (!step.ok || step.value === null) return undefined;
    return { sealed: step.value, token: this.#sealer.open(request.key, request.credentials, step.value) };
  }

  /** One fetch across replicas; `baseline` is the entry this caller saw and could not use. */
  async #fetchShared(request: ObtainRequest, baseline: string | undefined): Promise<ObtainResult> {
    const tokenKey = this.#tokenKey(request.key);
    const lockKey = `${this.#prefix}token-lock:${request.key}`;
    const owner = randomBytes(16).toString("base64url");
    const deadline = performance.now() + this.#lockTtlMs;
    let seen = baseline ?? "";
    let pause = FIRST_POLL_MS;
    let waiting = false;
    while (performance.now() < deadline) {
      const step = await this.#health.attempt("lock", (client) =>
        ACQUIRE.run(client, [tokenKey, lockKey], [owner, this.#lockTtlMs, seen]),
      );
      const reply = step.ok ? parseAcquireReply(step.value) : undefined;
      // Redis is down (or answers nonsense): this replica fetches on its own. A lock an earlier, timed
      // out attempt may have taken is released once the entry is written.
      if ((!step.ok && step.reason !== "failed") || (step.ok && reply === undefined))
        return this.#fetchHoldingLock(request, lockKey, owner);
      if (reply?.kind === "acquired") return this.#fetchHoldingLock(request, lockKey, owner);
      if (reply?.kind === "stored") {
        // Written by another replica's fetch since this caller looked.
        const token = this.#sealer.open(request.key, request.credentials, reply.sealed);
        if (token !== undefined && request.isUsable(token)) {
          this.#remember(request.key, token);
          return { token, source: "joined" };
        }
        // Not usable for this caller (or not openable): the next round takes the lock for a fresh one.
        seen = reply.sealed;
        continue;
      }
      // Held by another replica, or one failed command (a late reply): look again shortly.
      if (!waiting) {
        waiting = true;
        this.#onLockWait?.();
      }
      await delay(Math.min(pause, Math.max(0, deadline - performance.now())));
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
    // The lock outlived its TTL without an entry (or Redis kept failing): fetch rather than fail.
    return this.#fetchHoldingLock(request, lockKey, owner);
  }

  async #fetchHoldingLock(request: ObtainRequest, lockKey: string, owner: string): Promise<ObtainResult> {
    try {
      return await this.#fetchAndStore(request);
    } finally {
      // After the entry is written (or the fetch failed, so waiters may try themselves).
      await this.#health.attempt("lock", (client) => RELEASE.run(client, [lockKey], [owner]));
    }
  }

  async #fetchAndStore(request: ObtainRequest): Promise<ObtainResult> {
    const token = await request.fetch();
    this.#remember(request.key, token);
    const ttlMs = Math.floor(token.expiresAtMs - this.#clock());
    if (ttlMs >= 1) {
      const sealed = this.#sealer.seal(request.key, request.credentials, token);
      // The entry expires with the token, so Redis never holds a dead one.
      await this.#health.attempt("token_write", (client) =>
        client.set(this.#tokenKey(request.key), sealed, "PX", ttlMs),
      );
    }
    return { token, source: "upstream" };
  }

  #remember(key: string, token: IssuedToken): void {
    const ttl = token.expiresAtMs - this.#clock();
    if (ttl > 0) this.#local.set(key, token, { ttl });
  }

  #tokenKey(key: string): string {
    return `${this.#prefix}token:${key}`;
  }
}

function parseAcquireReply(reply: unknown): AcquireReply | undefined {
  if (!Array.isArray(reply)) return undefined;
  const [kind, sealed] = reply as unknown[];
  if (kind === "stored" && typeof sealed === "string") return { kind, sealed };
  if (kind === "acquired" || kind === "held") return { kind };
  return undefined;
}
