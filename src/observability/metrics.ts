import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { LockoutSubject, RefusalReason } from "../limits/attempt-limiter.js";
import type { CircuitState } from "../tokens/circuit-breaker.js";
import type { RefreshAheadOutcome } from "../tokens/token-service.js";
import type { TokenSource } from "../tokens/types.js";

/** What the public port holds at one instant. */
export interface EdgeLoadSample {
  readonly openConnections: number;
  readonly bodyBytes: number;
  readonly waitingRequests: number;
}

/**
 * The service's Prometheus metrics, on a registry of its own (so several apps can live in one test
 * process). Labels are closed sets of codes and classes: never a clientId, secret or token.
 */
// The connector reports to metrics through its own UpstreamObserver port (aspose/token-client.ts);
// ServiceMetrics fits it by shape, so observability never imports the connector. Outcome classes are
// a closed set there: "2xx", "3xx", "4xx", "429", "5xx", "network", "oversized".
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly #graphqlRequests: Counter<"outcome">;
  readonly #upstreamAttempts: Counter<"status_class">;
  readonly #upstreamCalls: Histogram<"outcome">;
  readonly #tokenLookups: Counter<"result">;
  readonly #lockouts: Counter<"subject">;
  readonly #refusals: Counter<"reason">;
  readonly #sharedStoreUp: Gauge;
  readonly #sharedStoreTopology: Gauge<"topology">;
  readonly #sharedStoreFallbacks: Counter<"operation">;
  readonly #sharedStoreDegraded: Gauge<"scope" | "cause">;
  #evictedKeys: (() => Promise<number | undefined>) | undefined;
  /** The cause each degraded scope is reported with now. */
  readonly #degradedCauses = new Map<string, string>();
  readonly #sharedLockWaits: Counter;
  readonly #refreshAhead: Counter<"outcome">;
  readonly #circuitOpen: Gauge;
  readonly #upstreamShed: Counter;
  readonly #upstreamRateLimitedLocal: Counter;
  readonly #perimeterRefusals: Counter<"reason">;
  readonly #connectionsShed: Counter<"reason">;

  constructor(options: { readonly defaultMetrics: boolean }) {
    if (options.defaultMetrics) collectDefaultMetrics({ register: this.registry });
    this.#graphqlRequests = new Counter({
      name: "graphql_requests_total",
      help: "GraphQL requests by outcome: ok, or the first error's extensions.code",
      labelNames: ["outcome"],
      registers: [this.registry],
    });
    this.#upstreamAttempts = new Counter({
      name: "aspose_upstream_attempts_total",
      help: "HTTP attempts to the Aspose token endpoint (retries included) by status class",
      labelNames: ["status_class"],
      registers: [this.registry],
    });
    this.#upstreamCalls = new Histogram({
      name: "aspose_upstream_call_duration_seconds",
      help: "Duration of whole upstream token calls, retries included, by final outcome",
      labelNames: ["outcome"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.#tokenLookups = new Counter({
      name: "token_cache_lookups_total",
      help: "Token requests by how they were answered: hit (cache), miss (fetched), joined (shared an in-flight fetch), stale (a still-valid cached token served because the refresh failed upstream)",
      labelNames: ["result"],
      registers: [this.registry],
    });
    this.#lockouts = new Counter({
      name: "credential_lockouts_total",
      help: "Lockouts started after repeated invalid credentials, by subject (client or address)",
      labelNames: ["subject"],
      registers: [this.registry],
    });
    this.#refusals = new Counter({
      name: "credential_attempts_refused_total",
      help: "Token requests with unverified credentials refused locally (TOO_MANY_ATTEMPTS), by reason: client_locked, address_locked, client_busy, address_busy (attempts in flight fill the budget), global_busy (the guess budget all unverified attempts share is full)",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    this.#sharedStoreUp = new Gauge({
      name: "shared_store_up",
      help: "1 when the shared store (Redis) is configured and reachable, 0 when configured and down, absent when not configured",
      registers: [this.registry],
    });
    this.#sharedStoreTopology = new Gauge({
      name: "shared_store_topology",
      help: "1 for the shared store's topology (standalone, cluster or sentinel), absent when not configured",
      labelNames: ["topology"],
      registers: [this.registry],
    });
    this.#sharedStoreFallbacks = new Counter({
      name: "shared_store_fallbacks_total",
      help: "Shared store (Redis) operations answered from local state instead, because Redis was down or failed, by operation",
      labelNames: ["operation"],
      registers: [this.registry],
    });
    this.#sharedStoreDegraded = new Gauge({
      name: "shared_store_degraded",
      help: "1 while a shared store scope (an operation: token_read, token_write, lock, limiter, verifier, cooldown; or store for its configuration) is answered locally for a cause: timeout, unreachable, noperm, no_scripts, oom, readonly, loading, cluster_down, evicting_policy, refused",
      labelNames: ["scope", "cause"],
      registers: [this.registry],
    });
    const metrics = this;
    new Gauge({
      name: "shared_store_evicted_keys",
      help: "Keys the shared store (Redis) evicted under maxmemory since it started (INFO evicted_keys, summed over cluster masters); absent when not configured or not readable",
      registers: [this.registry],
      async collect() {
        const count = await metrics.#evictedKeys?.();
        if (count === undefined) this.reset();
        else this.set(count);
      },
    });
    this.#sharedLockWaits = new Counter({
      name: "token_fetch_lock_waits_total",
      help: "Token fetches that waited for another replica holding the shared fetch lock",
      registers: [this.registry],
    });
    this.#refreshAhead = new Counter({
      name: "token_refresh_ahead_total",
      help: "Background refreshes of tokens in their refresh-ahead window, by outcome: refreshed, failed (upstream fault), rejected (credentials refused or locally limited)",
      labelNames: ["outcome"],
      registers: [this.registry],
    });
    this.#circuitOpen = new Gauge({
      name: "aspose_circuit_state",
      help: "The upstream circuit breaker: 0 closed, 1 half-open (probing), 2 open (calls refused at once)",
      registers: [this.registry],
    });
    this.#perimeterRefusals = new Counter({
      name: "perimeter_refusals_total",
      help: "Requests to /graphql the perimeter refused, by reason: secret_missing, secret_wrong, signature_missing, signature_wrong, certificate_missing, certificate_untrusted (not the router, under router-only access), document_not_listed (not a trusted document)",
      labelNames: ["reason"],
      registers: [this.registry],
    });
    this.#upstreamShed = new Counter({
      name: "aspose_upstream_shed_total",
      help: "Upstream calls refused because the concurrency cap was full for longer than ASPOSE_QUEUE_WAIT_MS",
      registers: [this.registry],
    });
    this.#upstreamRateLimitedLocal = new Counter({
      name: "aspose_upstream_rate_limited_local_total",
      help: "Token requests answered UPSTREAM_RATE_LIMITED without calling Aspose, because Aspose answered 429 for the same credential and its cool-down (Retry-After, at most 15 minutes) has not ended",
      registers: [this.registry],
    });
    this.#connectionsShed = new Counter({
      name: "http_connections_shed_total",
      help: "Connections the public port closed, or requests it refused, to protect itself, by reason: connection_cap, address_limit, slow_body, body_budget, send_timeout",
      labelNames: ["reason"],
      registers: [this.registry],
    });
  }

  /** Counts one connection closed or request refused by the public port's flood limits. */
  connectionShed(reason: string): void {
    this.#connectionsShed.inc({ reason });
  }

  /** Exposes what the public port holds, read at scrape time. */
  watchEdge(load: () => EdgeLoadSample): void {
    const gauge = (name: string, help: string, read: (sample: EdgeLoadSample) => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(read(load()));
        },
      });
    };
    gauge("http_connections_open", "Connections open on the public port", (sample) => sample.openConnections);
    gauge(
      "http_request_body_bytes",
      "Bytes held by request bodies still arriving on the public port (bounded by REQUEST_BODY_BUDGET_BYTES)",
      (sample) => sample.bodyBytes,
    );
    gauge(
      "http_pipelined_requests_waiting",
      "Pipelined requests read and waiting for their connection's turn (PIPELINE_DEPTH)",
      (sample) => sample.waitingRequests,
    );
  }

  /** Counts one request the perimeter refused, by the proof or list that refused it (a closed set). */
  perimeterRefusal(reason: string): void {
    this.#perimeterRefusals.inc({ reason });
  }

  /** Counts one finished background refresh. */
  refreshAhead(outcome: RefreshAheadOutcome): void {
    this.#refreshAhead.inc({ outcome });
  }

  /** Records the circuit breaker's state. */
  circuitState(state: CircuitState): void {
    this.#circuitOpen.set(state === "closed" ? 0 : state === "half-open" ? 1 : 2);
  }

  /** Counts one upstream call shed by the concurrency cap. */
  upstreamShed(): void {
    this.#upstreamShed.inc();
  }

  /** Counts one request answered from a credential's remembered cool-down, without calling Aspose. */
  upstreamRateLimitedLocal(): void {
    this.#upstreamRateLimitedLocal.inc();
  }

  attempt(outcome: string): void {
    this.#upstreamAttempts.inc({ status_class: outcome });
  }

  call(outcome: string, seconds: number): void {
    this.#upstreamCalls.observe({ outcome }, seconds);
  }

  /** Counts one answered GraphQL request. */
  graphqlRequest(outcome: string): void {
    this.#graphqlRequests.inc({ outcome });
  }

  /** Counts how one token request was answered. */
  tokenLookup(source: TokenSource): void {
    this.#tokenLookups.inc({
      result: source === "cache" ? "hit" : source === "upstream" ? "miss" : source,
    });
  }

  lockout(subject: LockoutSubject): void {
    this.#lockouts.inc({ subject });
  }

  /** Counts one request refused by the brute-force defence. */
  credentialRefusal(reason: RefusalReason): void {
    this.#refusals.inc({ reason });
  }

  sharedStoreUp(up: boolean): void {
    this.#sharedStoreUp.set(up ? 1 : 0);
  }

  /** Records which topology the shared store runs as (an info-style gauge). */
  sharedStoreTopology(topology: "standalone" | "cluster" | "sentinel"): void {
    this.#sharedStoreTopology.set({ topology }, 1);
  }

  /** Counts one shared store operation answered from local state. */
  sharedStoreFallback(
    operation: "token_read" | "token_write" | "lock" | "limiter" | "verifier" | "cooldown",
  ): void {
    this.#sharedStoreFallbacks.inc({ operation });
  }

  /** Marks a shared store scope degraded for `cause`, or (undefined) working again. */
  sharedStoreDegraded(scope: string, cause: string | undefined): void {
    // One series per scope: a new cause replaces the old one.
    const previous = this.#degradedCauses.get(scope);
    if (previous !== undefined) this.#sharedStoreDegraded.remove({ scope, cause: previous });
    this.#degradedCauses.delete(scope);
    if (cause === undefined) return;
    this.#sharedStoreDegraded.set({ scope, cause }, 1);
    this.#degradedCauses.set(scope, cause);
  }

  /** Reads the shared store's evicted_keys at scrape time. */
  watchEvictedKeys(read: () => Promise<number | undefined>): void {
    this.#evictedKeys = read;
  }

  /** Counts one token fetch that waited for another replica's fetch lock. */
  sharedLockWait(): void {
    this.#sharedLockWaits.inc();
  }

  /** Exposes the token cache's entry count, read at scrape time. */
  watchTokenCacheSize(size: () => number): void {
    new Gauge({
      name: "token_cache_entries",
      help: "Tokens held in this replica's cache (bounded by TOKEN_CACHE_MAX_ENTRIES)",
      registers: [this.registry],
      collect() {
        this.set(size());
      },
    });
  }

  /** The Prometheus text exposition. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
