import { Counter, Gauge, type Registry } from "prom-client";

// The shared store's vocabulary as its metrics label it. Defined here, below the stores, so that the
// stores (which report) and the metrics (which label) share one list.

/** How the shared store is deployed, as /readyz and the metrics name it. */
export type SharedStoreTopology = "standalone" | "cluster" | "sentinel";

/** The shared store operations that fall back to local state when Redis cannot answer. */
export type SharedStoreOperation =
  | "token_read"
  | "token_write"
  | "lock"
  | "limiter"
  | "verifier"
  | "cooldown";

/** What a degradation is about: one operation, or the store as a whole (its configuration). */
export type DegradedScope = SharedStoreOperation | "store";

/** The shared store's (Redis's) series: reachability, topology, fallbacks, degradations, evictions. */
export class SharedStoreMetrics {
  readonly #up: Gauge;
  readonly #topology: Gauge<"topology">;
  readonly #fallbacks: Counter<"operation">;
  readonly #degraded: Gauge<"scope" | "cause">;
  /** The cause each degraded scope is reported with now. */
  readonly #degradedCauses = new Map<DegradedScope, string>();
  readonly #lockWaits: Counter;
  #evictedKeys: (() => Promise<number | undefined>) | undefined;

  constructor(registry: Registry) {
    const registers = [registry];
    this.#up = new Gauge({
      name: "shared_store_up",
      help: "1 when the shared store (Redis) is configured and reachable, 0 when configured and down, absent when not configured",
      registers,
    });
    this.#topology = new Gauge({
      name: "shared_store_topology",
      help: "1 for the shared store's topology (standalone, cluster or sentinel), absent when not configured",
      labelNames: ["topology"],
      registers,
    });
    this.#fallbacks = new Counter({
      name: "shared_store_fallbacks_total",
      help: "Shared store (Redis) operations answered from local state instead, because Redis was down or failed, by operation",
      labelNames: ["operation"],
      registers,
    });
    this.#degraded = new Gauge({
      name: "shared_store_degraded",
      help: "1 while a shared store scope (an operation: token_read, token_write, lock, limiter, verifier, cooldown; or store for its configuration) is answered locally for a cause: timeout, unreachable, noperm, no_scripts, oom, readonly, loading, cluster_down, evicting_policy, refused",
      labelNames: ["scope", "cause"],
      registers,
    });
    const read = (): Promise<number | undefined> | undefined => this.#evictedKeys?.();
    new Gauge({
      name: "shared_store_evicted_keys",
      help: "Keys the shared store (Redis) evicted under maxmemory since it started (INFO evicted_keys, summed over cluster masters); absent when not configured or not readable",
      registers,
      async collect() {
        const count = await read();
        if (count === undefined) this.reset();
        else this.set(count);
      },
    });
    this.#lockWaits = new Counter({
      name: "token_fetch_lock_waits_total",
      help: "Token fetches that waited for another replica holding the shared fetch lock",
      registers,
    });
  }

  up(up: boolean): void {
    this.#up.set(up ? 1 : 0);
  }

  /** Records which topology the shared store runs as (an info-style gauge). */
  topology(topology: SharedStoreTopology): void {
    this.#topology.set({ topology }, 1);
  }

  /** Counts one shared store operation answered from local state. */
  fallback(operation: SharedStoreOperation): void {
    this.#fallbacks.inc({ operation });
  }

  /** Marks a scope degraded for `cause`, or (undefined) working again. */
  degraded(scope: DegradedScope, cause: string | undefined): void {
    // One series per scope: a new cause replaces the old one.
    const previous = this.#degradedCauses.get(scope);
    if (previous !== undefined) this.#degraded.remove({ scope, cause: previous });
    this.#degradedCauses.delete(scope);
    if (cause === undefined) return;
    this.#degraded.set({ scope, cause }, 1);
    this.#degradedCauses.set(scope, cause);
  }

  /** Reads the store's evicted_keys at scrape time. */
  watchEvictedKeys(read: () => Promise<number | undefined>): void {
    this.#evictedKeys = read;
  }

  /** Counts one token fetch that waited for another replica's fetch lock. */
  lockWait(): void {
    this.#lockWaits.inc();
  }
}
