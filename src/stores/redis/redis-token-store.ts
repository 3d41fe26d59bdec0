import { randomBytes } from "node:crypto";
import { LRUCache } from "lru-cache";
import type { Credential } from "../../tokens/credential.js";
import type { FetchClaim, StoredToken, TokenStore } from "../../tokens/ports.js";
import { SingleFlight } from "../../tokens/single-flight.js";
import type { Clock, IssuedToken } from "../../tokens/types.js";
import { MemoryTokenStore } from "../memory/memory-token-store.js";
import { LuaScript } from "./lua-script.js";
import type { RedisHealth } from "./redis-health.js";
import type { TokenSealer } from "./token-sealer.js";

export interface RedisTokenStoreOptions {
  readonly health: RedisHealth;
  readonly sealer: TokenSealer;
  /** Prepended to every key (REDIS_KEY_PREFIX). */
  readonly keyPrefix: string;
  /** Bound of the local tier in front of Redis (TOKEN_CACHE_MAX_ENTRIES); at least 1. */
  readonly maxEntries: number;
  /**
   * Lease of the cross-replica fetch claim (a lock): renewed every third of it while the fetch lives,
   * so a holder that dies frees the claim within one lease, however long a fetch may take.
   */
  readonly leaseMs: number;
  /** For token lifetimes (entry TTLs). */
  readonly clock: Clock;
}

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

// Extends the lease while this caller still owns the lock; 0 once it is lost (expired, taken over).
const RENEW = new LuaScript(
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`,
  1,
);

/**
 * Issued tokens shared by replicas through Redis, sealed (see TokenSealer), with a local tier in front.
 * Keys: `<prefix>token:{<lookup key>}` (the sealed entry) and `<prefix>token-lock:{<lookup key>}`.
 * An entry's version is its sealed text, so a claim can tell a newer write from the one a caller saw.
 * When Redis is down or slow every operation falls back to local state: tokens are still served, only
 * sharing pauses. Freshness and single flight are the token service's; this is storage.
 */
export class RedisTokenStore implements TokenStore {
  readonly #health: RedisHealth;
  readonly #sealer: TokenSealer;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /**
   * Owner ids whose ACQUIRE got no reply in time, per lookup key: it may have run (or may still), so
   * the next claim for that credential uses the same id, and its release frees the lock either way.
   */
  readonly #unanswered: LRUCache<string, string>;
  readonly #clock: Clock;
  readonly #local: MemoryTokenStore;
  readonly #reads = new SingleFlight<StoredToken | undefined>();

  constructor(options: RedisTokenStoreOptions) {
    this.#health = options.health;
    this.#sealer = options.sealer;
    this.#prefix = options.keyPrefix;
    this.#leaseMs = options.leaseMs;
    this.#unanswered = new LRUCache({ max: 10_000, ttl: options.leaseMs });
    this.#clock = options.clock;
    this.#local = new MemoryTokenStore({ maxEntries: options.maxEntries, clock: options.clock });
  }

  async get(credential: Credential): Promise<StoredToken | undefined> {
    const local = await this.#local.get(credential);
    if (local !== undefined) return local;
    // Concurrent callers for one key share one GET (their credentials are the same: the key says so).
    return this.#reads.run(credential.lookupKey, () => this.#read(credential)).promise;
  }

  async put(credential: Credential, token: IssuedToken, ttlMs: number): Promise<void> {
    const sealed = this.#sealer.seal(credential, token);
    this.#local.remember(credential.lookupKey, { token, version: sealed }, ttlMs);
    const ms = Math.floor(ttlMs);
    // The entry expires with the token, so Redis never holds a dead one.
    if (ms >= 1)
      await this.#health.attempt("token_write", (send) =>
        send("set", [this.#tokenKey(credential), sealed, "PX", ms]),
      );
  }

  async delete(credential: Credential): Promise<void> {
    await this.#local.delete(credential);
    await this.#health.attempt("token_write", (send) => send("del", [this.#tokenKey(credential)]));
  }

  async claim(credential: Credential, seen: StoredToken | undefined): Promise<FetchClaim> {
    const tokenKey = this.#tokenKey(credential);
    const lockKey = `${this.#prefix}token-lock:{${credential.lookupKey}}`;
    const lookupKey = credential.lookupKey;
    const owner = this.#unanswered.get(lookupKey) ?? randomBytes(16).toString("base64url");
    let baseline = seen?.version ?? "";
    // Twice at most: an entry that does not open for these credentials is passed over once.
    for (let round = 0; round < 2; round++) {
      const step = await this.#health.attempt("lock", (send) =>
        ACQUIRE.run(send, [tokenKey, lockKey], [owner, this.#leaseMs, baseline]),
      );
      // No reply in time: the ACQUIRE may have run. Its owner id is kept for the next claim (which
      // then holds or releases that lock); meanwhile the lock counts as held.
      if (!step.ok && step.reason === "failed") {
        this.#unanswered.set(lookupKey, owner);
        return { kind: "held" };
      }
      const reply = step.ok ? parseAcquireReply(step.value) : undefined;
      // Redis is down (or answers nonsense): this replica fetches on its own. A lock an earlier, timed
      // out attempt may have taken is released once the entry is written.
      if (reply === undefined || reply.kind === "acquired") {
        this.#unanswered.delete(lookupKey);
        return this.#granted(lockKey, owner, reply !== undefined);
      }
      if (reply.kind === "held") return { kind: "held" };
      const token = this.#sealer.open(credential, reply.sealed);
      if (token !== undefined) {
        const stored = { token, version: reply.sealed };
        this.#local.remember(credential.lookupKey, stored, token.expiresAtMs - this.#clock());
        return { kind: "stored", stored };
      }
      baseline = reply.sealed;
    }
    return { kind: "held" };
  }

  size(): number {
    return this.#local.size();
  }

  /** Empties the local tier; the Redis client belongs to whoever made it. */
  async close(): Promise<void> {
    await this.#local.close();
  }

  #granted(lockKey: string, owner: string, leased: boolean): FetchClaim {
    // The lease is renewed while the fetch lives; a renewal that finds the lock gone stops.
    const renewal = leased
      ? setInterval(() => {
          void this.#health
            .attempt("lock", (send) => RENEW.run(send, [lockKey], [owner, this.#leaseMs]))
            .then((step) => {
              if (step.ok && step.value === 0) clearInterval(renewal);
            });
        }, this.#leaseMs / 3).unref()
      : undefined;
    return {
      kind: "granted",
      release: async () => {
        clearInterval(renewal);
        await this.#health.attempt("lock", (send) => RELEASE.run(send, [lockKey], [owner]));
      },
    };
  }

  async #read(credential: Credential): Promise<StoredToken | undefined> {
    const step = await this.#health.attempt("token_read", (send) =>
      send("get", [this.#tokenKey(credential)]),
    );
    if (!step.ok || typeof step.value !== "string") return undefined;
    const token = this.#sealer.open(credential, step.value);
    if (token === undefined) return undefined;
    const stored = { token, version: step.value };
    this.#local.remember(credential.lookupKey, stored, token.expiresAtMs - this.#clock());
    return stored;
  }

  // The entry and its lock share the hash tag {lookupKey}: ACQUIRE touches both, so on a cluster they
  // must live in one slot, and entries for different credentials still spread over the slots.
  #tokenKey(credential: Credential): string {
    return `${this.#prefix}token:{${credential.lookupKey}}`;
  }
}

type AcquireReply =
  | { readonly kind: "stored"; readonly sealed: string }
  | { readonly kind: "acquired" }
  | { readonly kind: "held" };

function parseAcquireReply(reply: unknown): AcquireReply | undefined {
  if (!Array.isArray(reply)) return undefined;
  const [kind, sealed] = reply as unknown[];
  if (kind === "stored" && typeof sealed === "string") return { kind, sealed };
  if (kind === "acquired" || kind === "held") return { kind };
  return undefined;
}
