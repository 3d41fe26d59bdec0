import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { EdgeMetrics } from "./edge-metrics.js";
import { SharedStoreMetrics } from "./shared-store-metrics.js";
import type { LockoutSubject, RefusalReason } from "../limits/attempt-limiter.js";
import type { CircuitState } from "../tokens/circuit-breaker.js";
import type { RefreshAheadOutcome } from "../tokens/token-service.js";
import type { TokenSource } from "../tokens/types.js";

/**
 * The service's Prometheus metrics, on a registry of its own (so several apps can live in one test
 * process). Labels are closed sets of codes and classes: never a clientId, secret or token.
 */
// The connector reports to metrics through its own UpstreamObserver port (aspose/token-client.ts);
// ServiceMetrics fits it by shape, so observability never imports the connector. Outcome classes are
// a closed set there: "2xx", "3xx", "4xx", "429", "5xx", "network", "oversized".
export class ServiceMetrics {
  readonly registry = new Registry();
  /** The public port's flood limits, perimeter and load. */
  readonly edge = new EdgeMetrics(this.registry);
  /** The shared store (Redis), when configured. */
  readonly sharedStore = new SharedStoreMetrics(this.registry);
  readonly #graphqlRequests: Counter<"outcome">;
  readonly #upstreamAttempts: Counter<"status_class">;
  readonly #upstreamCalls: Histogram<"outcome">;
  readonly #tokenLookups: Counter<"result">;
  readonly #lockouts: Counter<"subject">;
  readonly #refusals: Counter<"reason">;
  readonly #refreshAhead: Counter<"outcome">;
  readonly #circuitOpen: Gauge;
  readonly #upstreamShed: Counter;
  readonly #upstreamRateLimitedLocal: Counter;

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
