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
import { connectHealth, deleteKeys, eventually, ThrowawayRedis } from "./replicas.js";

const SLOTS = 16_384;

/** A Redis Cluster of `masters` masters (no replicas), every slot assigned, `cluster_state:ok`. */
export class LocalCluster {
  readonly nodes: readonly ThrowawayRedis[];
  readonly #busPorts = new Map<number, number>();
  readonly #dir: string;

  private constructor(nodes: ThrowawayRedis[], dir: string) {
    this.nodes = nodes;
    this.#dir = dir;
  }

  static async start(masters = 3): Promise<LocalCluster> {
    const dir = await mkdtemp(join(tmpdir(), "aspose-token-cluster-"));
    const nodes: ThrowawayRedis[] = [];
    const cluster = new LocalCluster(nodes, dir);
    try {
      const started = await Promise.all(
        Array.from({ length: masters }, async () => {
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
      await cluster.#form();
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
    return new Redis(node.port, "127.0.0.1", { lazyConnect: false, maxRetriesPerRequest: 1 });
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
      const targetIndex = (sourceIndex + 1) % clients.length;
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

  // What `redis-cli --cluster create` does, without needing redis-cli: slots split evenly, distinct
  // config epochs (no collision to resolve), every node met, then wait for every node to agree.
  async #form(): Promise<void> {
    const clients = this.nodes.map((_, index) => this.node(index));
    try {
      const share = Math.ceil(SLOTS / clients.length);
      await Promise.all(
        clients.map(async (client, index) => {
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
        "the cluster to be ok on every node",
        async () => {
          const infos = await Promise.all(clients.map((client) => client.cluster("INFO") as Promise<string>));
          return infos.every((info) => info.includes("cluster_state:ok"));
        },
        20_000,
        50,
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  }
}

/** A primary, one replica of it, and one Sentinel (quorum 1) that fails over 500 ms after a loss. */
export class LocalSentinel {
  static readonly MASTER_NAME = "aspose-token-primary";
  primary: ThrowawayRedis;
  replica: ThrowawayRedis;
  readonly sentinel: ThrowawayRedis;
  readonly #dir: string;

  private constructor(
    primary: ThrowawayRedis,
    replica: ThrowawayRedis,
    sentinel: ThrowawayRedis,
    dir: string,
  ) {
    this.primary = primary;
    this.replica = replica;
    this.sentinel = sentinel;
    this.#dir = dir;
  }

  static async start(): Promise<LocalSentinel> {
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
      const config = join(dir, "sentinel.conf");
      await writeFile(
        config,
        [
          `sentinel monitor ${name} 127.0.0.1 ${primary.port} 1`,
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
      const set = new LocalSentinel(primary, replica, sentinel, dir);
      await set.#waitForReplicaKnown();
      return set;
    } catch (error) {
      await Promise.all(started.map((server) => server.kill()));
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** REDIS_SENTINELS for the service. */
  get sentinelList(): string {
    return `127.0.0.1:${this.sentinel.port}`;
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
    const sentinel = new Redis(this.sentinel.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
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
        15_000,
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
    await Promise.all([this.sentinel, this.primary, this.replica].map((server) => server.kill()));
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #waitForReplicaKnown(): Promise<void> {
    const sentinel = new Redis(this.sentinel.port, "127.0.0.1", { maxRetriesPerRequest: 1 });
    try {
      await eventually(
        "Sentinel to know the replica",
        async () => {
          const replicas = (await sentinel.call(
            "SENTINEL",
            "REPLICAS",
            LocalSentinel.MASTER_NAME,
          )) as string[][];
          return replicas.some((fields) => fields.includes(String(this.replica.port)));
        },
        15_000,
        50,
      );
    } finally {
      sentinel.disconnect();
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
    new ServiceMetrics({ defaultMetrics: false }),
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

/** The standalone Redis on 127.0.0.1:6379 and a fresh 3-master cluster, as one test file uses them. */
export interface SharedStoresUnderTest {
  readonly redis: Awaited<ReturnType<typeof connectHealth>>;
  readonly onCluster: { health: RedisHealth; close(): void };
}

/**
 * Registers the file's `before` (connect to 127.0.0.1:6379, start a cluster) and `after` (delete the
 * file's keys, stop everything) hooks; the returned object is read inside tests, once `before` ran.
 */
export function sharedStoresFor(prefix: string): SharedStoresUnderTest {
  let redis: SharedStoresUnderTest["redis"] | undefined;
  let cluster: LocalCluster | undefined;
  let onCluster: SharedStoresUnderTest["onCluster"] | undefined;
  before(async () => {
    redis = await connectHealth("redis://127.0.0.1:6379");
    cluster = await LocalCluster.start(3);
    onCluster = await cluster.health(prefix);
  });
  after(async () => {
    if (redis !== undefined) {
      await deleteKeys(redis.client, prefix);
      await redis.close();
    }
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
