/**
 * Real Redis topologies on loopback, started from the redis-server binary by the tests themselves (so
 * CI needs nothing but the binary): a 3-master Redis Cluster, and a primary + replica watched by one
 * Sentinel with a short down-after, which the tests can fail over by killing the primary. Every
 * process is a ThrowawayRedis; `stop()` kills them all and removes their temporary directory.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { Cluster, Redis } from "ioredis";
import { pino } from "pino";
import { freePort } from "../../dev/ports.js";
import type { SharedStoreConfig } from "../../src/config/index.js";
import { ServiceMetrics } from "../../src/observability/metrics.js";
import { connectRedis } from "../../src/stores/redis/connect.js";
import type { RedisHealth } from "../../src/stores/redis/redis-health.js";
import { connectHealth, eventually, ThrowawayRedis } from "./replicas.js";

const SLOTS = 16_384;

/**
 * A Redis Cluster of `masters` masters, each with `replicasPerMaster` replicas, every slot assigned,
 * `cluster_state:ok`. `nodes` lists the masters first, then the replicas.
 */
export class LocalCluster {
  readonly nodes: readonly ThrowawayRedis[];
  readonly #busPorts = new Map<number, number>();
  readonly #dir: string;
  readonly #masters: number;

  private constructor(nodes: ThrowawayRedis[], dir: string, masters: number) {
    this.nodes = nodes;
    this.#dir = dir;
    this.#masters = masters;
  }

  static async start(masters = 3, replicasPerMaster = 0): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), "aspose-token-cluster-"));
    const nodes: ThrowawayRedis[] = [];
    const cluster = new LocalCluster(nodes, dir, masters);
    try {
      const started = await Promise.all(
        Array.from({ length: masters * (1 + replicasPerMaster) }, async () => {
          const port = await freePort();
          // The bus port is chosen too (Redis 7's --cluster-port): port + 10000 may be taken or past 65535.
          const busPort = await freePort();
          cluster.#busPorts.set(port, busPort);
          return ThrowawayRedis.start({
            port,
            args: [
              ...["--cluster-enabled", "yes", "--cluster-port", String(busPort)],
              ...["--cluster-config-file", join(dir, `nodes-${port}.conf`), "--dir", dir],
              // Slot moves in the tests are planned; a short timeout only speeds up gossip.
              ...["--cluster-node-timeout", "1000"],
            ],
          });
        }),
      );
      nodes.push(...started);
      await cluster.#form(masters);
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** REDIS_CLUSTER_NODES for the service: every node, as a managed cluster's configuration endpoint. */
  get nodeList(): string {
    return this.nodes.map((node) => `127.0.0.1:${node.port}`).join(",");
  }

  /** A direct connection to one node (no redirections followed). */
  node(index: number): Redis {
    const node = this.nodes[index];
    if (node === undefined) throw new RangeError(`no node ${index}`);
    const client = new Redis(node.port, "127.0.0.1", { lazyConnect: false, maxRetriesPerRequest: 1 });
    // A node the test killed: its client's reconnect errors are expected.
    client.on("error", () => {});
    return client;
  }

  /** A cluster client for test assertions (SCAN per master, reads by key). */
  client(): Cluster {
    return new Cluster(
      this.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
      { redisOptions: { maxRetriesPerRequest: 1 } },
    );
  }

  /**
   * Moves the slot of `key` to another master the way `redis-cli --cluster reshard` does: the slot is
   * marked importing/migrating, its keys are MIGRATEd, then both sides are told the new owner. Between
   * the MIGRATE and the final SETSLOT, `onMigrated` runs: a read then is answered with `ASK`.
   */
  async moveSlotOf(key: string, onMigrated?: () => Promise<void>): Promise<void> {
    const clients = this.nodes.map((_, index) => this.node(index));
    try {
      const slot = Number(await clients[0]?.cluster("KEYSLOT", key));
      const ids = await Promise.all(clients.map((client) => client.cluster("MYID") as Promise<string>));
      const sourceIndex = await this.#ownerOf(clients, slot);
      const targetIndex = (sourceIndex + 1) % this.#masters;
      const source = clients[sourceIndex];
      const target = clients[targetIndex];
      const sourceId = ids[sourceIndex];
      const targetId = ids[targetIndex];
      const targetPort = this.nodes[targetIndex]?.port;
      if (!source || !target || !sourceId || !targetId || targetPort === undefined)
        throw new Error(`cannot move slot ${slot}`);
      await target.cluster("SETSLOT", slot, "IMPORTING", sourceId);
      await source.cluster("SETSLOT", slot, "MIGRATING", targetId);
      for (;;) {
        const keys = (await source.cluster("GETKEYSINSLOT", slot, 100)) as string[];
        if (keys.length === 0) break;
        await source.migrate("127.0.0.1", targetPort, "", 0, 5_000, "KEYS", ...keys);
      }
      await onMigrated?.();
      for (const client of [target, source, ...clients])
        await client.cluster("SETSLOT", slot, "NODE", targetId);
    } finally {
      for (const client of clients) client.disconnect();
    }
  }

  /** The service's own connection to this cluster (connect.ts), once up; for driving stores directly. */
  async health(keyPrefix: string): Promise<{ health: RedisHealth; close(): void }> {
    return connectShared({
      kind: "cluster",
      nodes: this.nodes.map((node) => ({ host: "127.0.0.1", port: node.port })),
      auth: { username: undefined, password: undefined },
      tls: undefined,
      keyPrefix,
      commandTimeoutMs: 1_000,
      evictingPolicy: "warn",
    });
  }

  /** Kills every node and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((node) => node.kill()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #ownerOf(clients: Redis[], slot: number): Promise<number> {
    const ranges = (await clients[0]?.cluster("SLOTS")) ?? [];
    const range = ranges.find(([from, to]) => slot >= from && slot <= to);
    const port = range?.[2]?.[1];
    const index = this.nodes.findIndex((node) => node.port === port);
    if (index < 0) throw new Error(`no owner for slot ${slot}`);
    return index;
  }

  /**
   * Kills the master that owns the slot of `key` (SIGKILL) and resolves once one of its replicas owns
   * that slot and every surviving node says `cluster_state:ok`; returns the time that took, in ms.
   */
  async killMasterOf(key: string): Promise<number> {
    const clients = this.nodes.map((_, index) => this.node(index));
    try {
      const slot = Number(await clients[0]?.cluster("KEYSLOT", key));
      const ownerIndex = await this.#ownerOf(clients, slot);
      const ownerPort = this.nodes[ownerIndex]?.port;
      const started = performance.now();
      await this.nodes[ownerIndex]?.kill();
      const survivors = clients.filter((_, index) => index !== ownerIndex);
      await eventually(
        "a replica to take over the dead master's slots",
        async () => {
          const infos = await Promise.all(
            survivors.map((client) => client.cluster("INFO").catch(() => "") as Promise<string>),
          );
          if (!infos.every((info) => info.includes("cluster_state:ok"))) return false;
          const owner = await this.#ownerPort(survivors, slot);
          return owner !== undefined && owner !== ownerPort;
        },
        30_000,
        50,
      );
      return performance.now() - started;
    } finally {
      for (const client of clients) client.disconnect();
    }
  }

  async #ownerPort(clients: Redis[], slot: number): Promise<number | undefined> {
    for (const client of clients) {
      try {
        const ranges = await client.cluster("SLOTS");
        const range = ranges.find(([from, to]) => slot >= from && slot <= to);
        const port = range?.[2]?.[1];
        if (typeof port === "number") return port;
      } catch {
        // A node that cannot answer: ask the next one.
      }
    }
    return undefined;
  }

  // What `redis-cli --cluster create` does, without needing redis-cli: slots split evenly over the
  // first `masters` nodes, distinct config epochs (no collision to resolve), every node met, the rest
  // made replicas of the masters in turn, then wait for every node to agree.
  async #form(masters: number): Promise<void> {
    const clients = this.nodes.map((_, index) => this.node(index));
    try {
      const share = Math.ceil(SLOTS / masters);
      await Promise.all(
        clients.slice(0, masters).map(async (client, index) => {
          await client.cluster("ADDSLOTSRANGE", index * share, Math.min(SLOTS, (index + 1) * share) - 1);
          await client.cluster("SET-CONFIG-EPOCH", index + 1);
        }),
      );
      const [first] = clients;
      for (const node of this.nodes.slice(1))
        await first?.cluster(
          "MEET",
          "127.0.0.1",
          node.port,
          this.#busPorts.get(node.port) ?? node.port + 10_000,
        );
      await eventually(
        "every node to know every other",
        async () => {
          const known = await Promise.all(
            clients.map((client) => client.cluster("NODES") as Promise<string>),
          );
          return known.every((text) => text.trim().split("\n").length === clients.length);
        },
        20_000,
        50,
      );
      const masterIds = await Promise.all(
        clients.slice(0, masters).map((client) => client.cluster("MYID") as Promise<string>),
      );
      await Promise.all(
        clients
          .slice(masters)
          .map((client, index) => client.cluster("REPLICATE", masterIds[index % masters] ?? "")),
      );
      await eventually(
        "the cluster to be ok on every node, every replica in sync",
        async () => {
          const infos = await Promise.all(clients.map((client) => client.cluster("INFO") as Promise<string>));
          if (!infos.every((info) => info.includes("cluster_state:ok"))) return false;
          const links = await Promise.all(clients.slice(masters).map((client) => client.info("replication")));
          return links.every((info) => info.includes("master_link_status:up"));
        },
        20_000,
        50,
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  }
}

/**
 * A primary, one replica of it, and `sentinels` Sentinels (1 by default, quorum 1; with 3, quorum 2)
 * that fail over 500 ms after a loss. Checks go through the last sentinel, so a test may freeze the
 * first one (a sentinel on the primary's own host goes down with it).
 */
export class LocalSentinel {
  static readonly MASTER_NAME = "aspose-token-primary";
  primary: ThrowawayRedis;
  replica: ThrowawayRedis;
  readonly sentinels: readonly ThrowawayRedis[];
  readonly #dir: string;

  private constructor(
    primary: ThrowawayRedis,
    replica: ThrowawayRedis,
    sentinels: readonly ThrowawayRedis[],
    dir: string,
  ) {
    this.primary = primary;
    this.replica = replica;
    this.sentinels = sentinels;
    this.#dir = dir;
  }

  static async start(options: { readonly sentinels?: number } = {}): Promise<LocalSentinel> {
    const count = options.sentinels ?? 1;
    const dir = await mkdtemp(join(tmpdir(), "aspose-token-sentinel-"));
    const started: ThrowawayRedis[] = [];
    try {
      const primary = await ThrowawayRedis.start({ args: ["--dir", dir] });
      started.push(primary);
      const replica = await ThrowawayRedis.start({
        args: ["--dir", dir, "--replicaof", "127.0.0.1", String(primary.port)],
      });
      started.push(replica);
      // Sentinel learns replicas from the primary's INFO: start it once the replica is attached, so
      // it knows a replica to promote from its first look.
      await waitForLink(replica.port);
      const name = LocalSentinel.MASTER_NAME;
      const quorum = count >= 3 ? 2 : 1;
      const sentinels = await Promise.all(
        Array.from({ length: count }, async (_, index) => {
          const config = join(dir, `sentinel-${index}.conf`);
          await writeFile(
            config,
            [
              `sentinel monitor ${name} 127.0.0.1 ${primary.port} ${quorum}`,
              `sentinel down-after-milliseconds ${name} 500`,
              `sentinel failover-timeout ${name} 2000`,
              "",
            ].join("\n"),
          );
          const sentinel = await ThrowawayRedis.start({
            leadingArgs: [config, "--sentinel"],
            args: ["--dir", dir],
            readyLine: "+monitor master",
          });
          started.push(sentinel);
          return sentinel;
        }),
      );
      const set = new LocalSentinel(primary, replica, sentinels, dir);
      await set.#waitForPeers();
      return set;
    } catch (error) {
      await Promise.all(started.map((server) => server.kill()));
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The first sentinel (the one a single-sentinel set has). */
  get sentinel(): ThrowawayRedis {
    const [first] = this.sentinels;
    if (first === undefined) throw new Error("no sentinel");
    return first;
  }

  /** REDIS_SENTINELS for the service, in start order. */
  get sentinelList(): string {
    return this.sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",");
  }

  /** A direct connection to the current primary. */
  primaryClient(): Redis {
    return new Redis(this.primary.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  }

  /**
   * Kills the primary (SIGKILL, as a crashed machine) and resolves once Sentinel has promoted the
   * replica and the replica says it is a master; returns the time that took, in ms.
   */
  async killPrimary(): Promise<number> {
    const started = performance.now();
    await this.primary.kill();
    const sentinel = this.#lastSentinel();
    const promoted = new Redis(this.replica.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      await eventually(
        "Sentinel to promote the replica",
        async () => {
          const address = (await sentinel.call(
            "SENTINEL",
            "GET-MASTER-ADDR-BY-NAME",
            LocalSentinel.MASTER_NAME,
          )) as [string, string] | null;
          if (address?.[1] !== String(this.replica.port)) return false;
          const role = (await promoted.call("ROLE")) as [string, ...unknown[]];
          return role[0] === "master";
        },
        30_000,
        50,
      );
    } finally {
      sentinel.disconnect();
      promoted.disconnect();
    }
    const elapsed = performance.now() - started;
    [this.primary, this.replica] = [this.replica, this.primary];
    return elapsed;
  }

  /** Kills every process and removes the directory. */
  async stop(): Promise<void> {
    await Promise.all([...this.sentinels, this.primary, this.replica].map((server) => server.kill()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  #lastSentinel(): Redis {
    const last = this.sentinels[this.sentinels.length - 1] ?? this.sentinel;
    return new Redis(last.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
  }

  // Every sentinel knows the replica, and the others (hello messages): a failover can be agreed.
  async #waitForPeers(): Promise<void> {
    const clients = this.sentinels.map(
      (sentinel) => new Redis(sentinel.port, "127.0.0.1", { maxRetriesPerRequest: 1 }),
    );
    try {
      await eventually(
        "every Sentinel to know the replica and its peers",
        async () => {
          for (const sentinel of clients) {
            const replicas = (await sentinel.call(
              "SENTINEL",
              "REPLICAS",
              LocalSentinel.MASTER_NAME,
            )) as string[][];
            if (!replicas.some((fields) => fields.includes(String(this.replica.port)))) return false;
            const peers = (await sentinel.call(
              "SENTINEL",
              "SENTINELS",
              LocalSentinel.MASTER_NAME,
            )) as unknown[];
            if (peers.length !== clients.length - 1) return false;
          }
          return true;
        },
        30_000,
        50,
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  }
}

async function waitForLink(replicaPort: number): Promise<void> {
  const replica = new Redis(replicaPort, "127.0.0.1", { maxRetriesPerRequest: 1 });
  try {
    await eventually(
      "the replica to sync with its primary",
      async () => (await replica.info("replication")).includes("master_link_status:up"),
      15_000,
      25,
    );
  } finally {
    replica.disconnect();
  }
}

/** A sample's value in a /metrics text (labels as in the exposition), or undefined when absent. */
export function metricIn(text: string, sample: string): number | undefined {
  const line = text.split("\n").find((candidate) => candidate.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

/** The service's own connection (connect.ts) for `settings`, once it reports up. */
export async function connectShared(
  settings: SharedStoreConfig,
): Promise<{ health: RedisHealth; close(): void }> {
  const health = connectRedis(
    settings,
    pino({ level: "silent" }),
    new ServiceMetrics({ defaultMetrics: false }).sharedStore,
  );
  await eventually("the shared store to be up", () => health.up());
  return {
    health,
    close() {
      health.close();
      health.client.disconnect();
    },
  };
}

/** A throwaway standalone Redis and a fresh 3-master cluster, as one test file uses them. */
export interface SharedStoresUnderTest {
  readonly redis: Awaited<ReturnType<typeof connectHealth>>;
  readonly onCluster: { health: RedisHealth; close(): void };
}

/**
 * Registers the file's `before` (start a standalone Redis and a cluster, connect to both) and `after`
 * (stop everything) hooks; the returned object is read inside tests, once `before` ran.
 */
export function sharedStoresFor(prefix: string): SharedStoresUnderTest {
  let standalone: ThrowawayRedis | undefined;
  let redis: SharedStoresUnderTest["redis"] | undefined;
  let cluster: LocalCluster | undefined;
  let onCluster: SharedStoresUnderTest["onCluster"] | undefined;
  before(async () => {
    standalone = await ThrowawayRedis.start();
    redis = await connectHealth(standalone.url);
    cluster = await LocalCluster.start(3);
    onCluster = await cluster.health(prefix);
  });
  after(async () => {
    await redis?.close();
    await standalone?.kill();
    onCluster?.close();
    await cluster?.stop();
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("sharedStoresFor: read before the before() hook ran");
    return value;
  };
  return {
    get redis() {
      return started(redis);
    },
    get onCluster() {
      return started(onCluster);
    },
  };
}
