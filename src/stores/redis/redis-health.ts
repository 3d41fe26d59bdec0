import type { Cluster, Redis } from "ioredis";
import type { Logger } from "pino";

/** A connection to the shared store: one Redis (standalone or through Sentinel) or a Redis Cluster. */
export type SharedClient = Redis | Cluster;

/** How the shared store is deployed, as /readyz and the metrics name it. */
export type SharedStoreTopology = "standalone" | "cluster" | "sentinel";

/** The shared store operations that fall back to local state when Redis cannot answer. */
export type SharedStoreOperation = "token_read" | "token_write" | "lock" | "limiter";

/** Where the store's health is reported (ServiceMetrics). */
export interface SharedStoreObserver {
  sharedStoreUp(up: boolean): void;
  sharedStoreTopology(topology: SharedStoreTopology): void;
  sharedStoreFallback(operation: SharedStoreOperation): void;
}

/**
 * A command's result, or why there is none: Redis is down (not sent), the command failed (timed out:
 * it may still have run), or Redis refused it (a script error). The caller then uses local state.
 */
export type Attempt<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly reason: "down" | "failed" | "refused" };

export interface RedisHealthOptions {
  readonly topology: SharedStoreTopology;
  readonly logger: Logger;
  readonly observer: SharedStoreObserver;
  /** While down with the connection still open (Redis hung), how often a PING checks for recovery. */
  readonly probeIntervalMs: number;
  /**
   * Command failures on an open connection trip the store to down only when they go on this long with
   * no success in between: one late reply (a busy event loop fires the timeout first) is not an outage.
   */
  readonly tripAfterMs: number;
  /**
   * The longest a command may take, whatever the client does meanwhile: a cluster client retries a
   * command on its own through a failover or a slot move (MOVED, ASK, TRYAGAIN, CLUSTERDOWN), past
   * any one node's command timeout. Past this the caller uses local state, as for a timeout.
   */
  readonly deadlineMs: number;
}

/** Thrown when a command outlives RedisHealthOptions.deadlineMs (it may still run on the server). */
class DeadlineExceeded extends Error {
  override readonly name = "DeadlineExceeded";
}

/**
 * Whether Redis can be used right now, and the one way commands reach it. While it is down, commands
 * are not sent at all (callers fall straight back to local state instead of each waiting out a
 * timeout); it is back when the client reconnects or a probe PING answers. Each outage is logged once
 * when it starts and once when it ends.
 */
export class RedisHealth {
  readonly name = "redis";
  readonly client: SharedClient;
  readonly topology: SharedStoreTopology;
  readonly #logger: Logger;
  readonly #observer: SharedStoreObserver;
  readonly #probeIntervalMs: number;
  readonly #tripAfterMs: number;
  readonly #deadlineMs: number;
  #failingSince: number | undefined;
  #refusing = false;
  #state: "starting" | "up" | "down" = "starting";
  #probe: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(client: SharedClient, options: RedisHealthOptions) {
    this.client = client;
    this.topology = options.topology;
    this.#deadlineMs = options.deadlineMs;
    this.#logger = options.logger;
    this.#observer = options.observer;
    this.#probeIntervalMs = options.probeIntervalMs;
    this.#tripAfterMs = options.tripAfterMs;
    this.#observer.sharedStoreUp(false);
    this.#observer.sharedStoreTopology(options.topology);
    client.on("ready", () => this.#markUp());
    // Without an "error" listener a connection failure would be an unhandled error event.
    client.on("error", (error: Error) => this.#markDown(error));
    client.on("close", () => this.#markDown(undefined));
    if (client.status === "ready") this.#markUp();
  }

  up(): boolean {
    return this.#state === "up";
  }

  /**
   * Runs `command` when Redis is up; any failure is reported, never thrown. A failed command may still
   * have run on the server (its reply came too late): callers keep their writes idempotent.
   */
  async attempt<T>(
    operation: SharedStoreOperation,
    command: (client: SharedClient) => Promise<T>,
  ): Promise<Attempt<T>> {
    if (this.#state !== "up") {
      this.#observer.sharedStoreFallback(operation);
      return { ok: false, reason: "down" };
    }
    try {
      const value = await this.#bounded(command(this.client));
      this.#failingSince = undefined;
      this.#refusing = false;
      return { ok: true, value };
    } catch (error) {
      this.#observer.sharedStoreFallback(operation);
      return { ok: false, reason: this.#failed(error, operation) };
    }
  }

  /** Stops the probe; the client's own close is not an outage. */
  close(): void {
    this.#closing = true;
    this.#stopProbe();
  }

  async #bounded<T>(pending: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DeadlineExceeded("shared store command deadline")),
        this.#deadlineMs,
      );
    });
    try {
      return await Promise.race([pending, deadline]);
    } finally {
      clearTimeout(timer);
      // A command past its deadline settles later, unobserved: its failure is already reported.
      pending.catch(() => {});
    }
  }

  #failed(error: unknown, operation: SharedStoreOperation): "down" | "failed" | "refused" {
    // A refused command (a script error) says nothing about reachability: report it, stay up.
    if (error instanceof Error && error.name === "ReplyError") {
      // Once until a command succeeds again (a READONLY or OOM server refuses every command).
      if (!this.#refusing)
        this.#logger.error({ err: error, operation }, "Redis refused a command; using local state for it");
      this.#refusing = true;
      return "refused";
    }
    // No connection: down at once (the client's own events usually say so first).
    if (this.client.status !== "ready") {
      this.#markDown(error);
      return "down";
    }
    const now = performance.now();
    this.#failingSince ??= now;
    if (now - this.#failingSince < this.#tripAfterMs) return "failed";
    this.#markDown(error);
    return "down";
  }

  #markUp(): void {
    if (this.#state === "up" || this.#closing) return;
    const recovered = this.#state === "down";
    this.#state = "up";
    this.#failingSince = undefined;
    this.#stopProbe();
    this.#observer.sharedStoreUp(true);
    this.#logger.info(
      recovered
        ? "Redis is back: token cache and lockout counters are shared again"
        : "Redis connected: token cache and lockout counters are shared",
    );
  }

  #markDown(error: unknown): void {
    if (this.#state === "down" || this.#closing) return;
    this.#state = "down";
    this.#observer.sharedStoreUp(false);
    this.#logger.warn(
      { err: error },
      "Redis unavailable: serving from this replica's local cache and counters until it returns",
    );
    this.#probe = setInterval(() => {
      // A closed connection comes back through the client's own reconnects and its "ready" event.
      if (this.client.status !== "ready") return;
      this.client.ping().then(
        () => this.#markUp(),
        () => {},
      );
    }, this.#probeIntervalMs);
    this.#probe.unref();
  }

  #stopProbe(): void {
    if (this.#probe !== undefined) clearInterval(this.#probe);
    this.#probe = undefined;
  }
}
