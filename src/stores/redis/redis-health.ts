import type { Logger } from "pino";
import type {
  DegradedScope,
  SharedStoreOperation,
  SharedStoreTopology,
} from "../../observability/shared-store-metrics.js";
import { runBounded, type Send, type SharedClient } from "./bounded-command.js";
import { causeOf, type FailureCause, FailureLog, isReplyError } from "./store-failures.js";

export type { Send, SharedClient } from "./bounded-command.js";
export type { FailureCause } from "./store-failures.js";

export type {
  DegradedScope,
  SharedStoreOperation,
  SharedStoreTopology,
} from "../../observability/shared-store-metrics.js";

/** Where the store's health is reported (the metrics' SharedStoreMetrics). */
export interface SharedStoreObserver {
  up(up: boolean): void;
  topology(topology: SharedStoreTopology): void;
  fallback(operation: SharedStoreOperation): void;
  /** `cause` undefined: the scope works again. */
  degraded(scope: DegradedScope, cause: FailureCause | undefined): void;
}

/**
 * A command's result, or why there is none: Redis is down or withheld (not sent), the command failed
 * (no reply in time, or the connection dropped under it: it may still have run), or Redis refused it
 * (an error reply: it did not run). The caller then uses local state.
 */
export type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "down" | "failed" | "refused"; readonly cause: FailureCause };

export interface RedisHealthOptions {
  readonly topology: SharedStoreTopology;
  readonly logger: Logger;
  readonly observer: SharedStoreObserver;
  /** How often the watch looks at the connection: a PING while suspect, a reconnect once ended. */
  readonly probeIntervalMs: number;
  /** A store failing this long with no success in between is an outage (logged, /readyz "down"). */
  readonly tripAfterMs: number;
  /** The longest a run of commands may take, whatever the client does meanwhile (REDIS_TIMEOUT_MS). */
  readonly deadlineMs: number;
  /** How often a repeated failure of one cause is logged at most. */
  readonly logIntervalMs: number;
}

/**
 * Whether Redis can be used right now, and the one way commands reach it. Commands are sent only
 * while the store is up and not suspect: after a command times out, none is sent until a PING answers
 * again, so a frozen Redis costs a request at most one deadline before local state answers. A client
 * that ended without the service closing it (ioredis gives up on some failover races) is reconnected.
 * Each outage is logged once when it starts and once when it ends; failures by cause at most once per
 * interval (FailureLog). Degradations (an operation failing, an unsafe server setting) are reported
 * with their cause until the operation succeeds again.
 */
export class RedisHealth {
  readonly name = "redis";
  readonly client: SharedClient;
  readonly topology: SharedStoreTopology;
  readonly #options: RedisHealthOptions;
  readonly #failures: FailureLog;
  readonly #degraded = new Map<DegradedScope, FailureCause>();
  readonly #withheld = new Set<SharedStoreOperation>();
  readonly #onReady: (() => void)[] = [];
  #failingSince: number | undefined;
  #suspect = false;
  #state: "starting" | "up" | "down" = "starting";
  readonly #watch: NodeJS.Timeout;
  #probing = false;
  #closing = false;

  constructor(client: SharedClient, options: RedisHealthOptions) {
    this.client = client;
    this.topology = options.topology;
    this.#options = options;
    this.#failures = new FailureLog(options.logger, options.logIntervalMs);
    options.observer.up(false);
    options.observer.topology(options.topology);
    client.on("ready", () => this.#markUp());
    // Without an "error" listener a connection failure would be an unhandled error event; the
    // outage itself is reported once, by #markDown.
    client.on("error", () => {});
    client.on("close", () => this.#markDown());
    this.#watch = setInterval(() => void this.#probe(), options.probeIntervalMs).unref();
    if (client.status === "ready") this.#markUp();
  }

  up(): boolean {
    return this.#state === "up";
  }

  /** The reasons the store is degraded now, `scope:cause`, sorted; empty when it is not. */
  degraded(): string[] {
    return [...this.#degraded].map(([scope, cause]) => `${scope}:${cause}`).sort();
  }

  /** /readyz's view: "up", "degraded" (with the reasons) or "down", and the topology. */
  readiness(): Record<string, string> {
    const reasons = this.degraded();
    if (this.#state !== "up") return { redis: "down", redisTopology: this.topology };
    if (reasons.length === 0) return { redis: "up", redisTopology: this.topology };
    return { redis: "degraded", redisDegraded: reasons.join(","), redisTopology: this.topology };
  }

  /** Runs `listener` every time the connection becomes ready (start-up checks, script probes). */
  onReady(listener: () => void): void {
    this.#onReady.push(listener);
    if (this.#state === "up") listener();
  }

  /** Records (or, with `cause` undefined, clears) a degradation found outside a command's failure. */
  setDegraded(scope: DegradedScope, cause: FailureCause | undefined): void {
    if (this.#degraded.get(scope) === cause) return;
    if (cause === undefined) this.#degraded.delete(scope);
    else this.#degraded.set(scope, cause);
    this.#options.observer.degraded(scope, cause);
  }

  /** Stops sending `operation` (it answers "down" at once) while `withheld`. */
  withhold(operation: SharedStoreOperation, withheld: boolean): void {
    if (withheld) this.#withheld.add(operation);
    else this.#withheld.delete(operation);
  }

  /**
   * Runs `command` (every Redis command it sends, through `send`) within the deadline when Redis is
   * usable; any failure is reported, never thrown. A failed command may still have run on the server:
   * callers keep their writes harmless to repeat or to leave behind.
   */
  async attempt<T>(
    operation: SharedStoreOperation,
    command: (send: Send) => Promise<T>,
  ): Promise<Attempt<T>> {
    if (this.#state !== "up" || this.#suspect || this.#withheld.has(operation)) {
      this.#options.observer.fallback(operation);
      return { ok: false, reason: "down", cause: this.#degraded.get(operation) ?? "unreachable" };
    }
    try {
      const value = await runBounded(this.client, this.#options.deadlineMs, command);
      this.#failingSince = undefined;
      this.setDegraded(operation, undefined);
      return { ok: true, value };
    } catch (error) {
      this.#options.observer.fallback(operation);
      return this.#failed(operation, error);
    }
  }

  /** Stops the watch; the client's own close is not an outage. */
  close(): void {
    this.#closing = true;
    clearInterval(this.#watch);
    this.#failures.close();
  }

  #failed(operation: SharedStoreOperation, error: unknown): Attempt<never> {
    const cause = causeOf(error);
    this.setDegraded(operation, cause);
    if (isReplyError(error)) {
      // A refusal says nothing about reachability; it is logged without a stack (it is not a bug).
      const reply = error.message.split(" ", 1)[0];
      this.#failures.report(
        `${operation}:${cause}`,
        { operation, cause, reply },
        "Redis refused a command; using local state for it",
      );
      return { ok: false, reason: "refused", cause };
    }
    if (cause === "timeout")
      this.#failures.report(
        `${operation}:timeout`,
        { operation, cause, timeoutMs: this.#options.deadlineMs },
        "Redis did not answer in time; using local state until it does",
      );
    // Suspect until a PING answers: no request waits out another timeout meanwhile.
    this.#suspect = true;
    this.#failingSince ??= performance.now();
    void this.#probe();
    return { ok: false, reason: "failed", cause };
  }

  async #probe(): Promise<void> {
    if (this.#closing || this.#probing) return;
    const client = this.client;
    if (client.status === "end") {
      // Ended without close(): ioredis will not reconnect by itself, so the service does.
      this.#failures.report("connection:ended", {}, "Redis connection ended; reconnecting");
      client.connect().catch(() => {});
      return;
    }
    if (!(this.#suspect || this.#state === "down") || client.status !== "ready") return;
    this.#probing = true;
    try {
      await runBounded(client, this.#options.deadlineMs, (send) => send("ping", []));
      this.#suspect = false;
      this.#failingSince = undefined;
      this.#reachableAgain();
      this.#markUp();
    } catch {
      const since = this.#failingSince ?? performance.now();
      this.#failingSince = since;
      if (performance.now() - since >= this.#options.tripAfterMs) this.#markDown();
    } finally {
      this.#probing = false;
    }
  }

  /**
   * Answering again (a PING, or a new connection): what only reachability broke works again too, even
   * an operation nobody has tried since; refusals wait for a success. Not on a cluster, where one node
   * answering says nothing of a dead shard.
   */
  #reachableAgain(): void {
    if (this.topology === "cluster") return;
    for (const [scope, cause] of this.#degraded)
      if (cause === "timeout" || cause === "unreachable") this.setDegraded(scope, undefined);
  }

  #markUp(): void {
    if (this.#closing) return;
    if (this.#state === "up") return;
    const recovered = this.#state === "down";
    this.#state = "up";
    this.#suspect = false;
    this.#failingSince = undefined;
    this.#reachableAgain();
    this.#options.observer.up(true);
    this.#options.logger.info(
      recovered
        ? "Redis is back: token cache and lockout counters are shared again"
        : "Redis connected: token cache and lockout counters are shared",
    );
    for (const listener of this.#onReady) listener();
  }

  #markDown(): void {
    if (this.#state === "down" || this.#closing) return;
    this.#state = "down";
    this.#options.observer.up(false);
    this.#options.logger.warn(
      "Redis unavailable: serving from this replica's local cache and counters until it returns",
    );
  }
}
