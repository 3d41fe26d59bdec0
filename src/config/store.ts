import { readFileSync } from "node:fs";
import { anyText, type Format, filePath, list, matching, text } from "./formats.js";
import { ConfigError, type Env, flag, integer, oneOf } from "./parse.js";
import { refuse, section, type Variable } from "./section.js";
import { EVICTING_POLICY_ACTIONS, type RedisNode, type StoreConfig } from "./store-types.js";

/** `host:port`, or `[v6]:port` for IPv6. */
const redisNode: Format<RedisNode> = {
  means: "host:port",
  read: (entry) => {
    const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]/@]+)):(\d{1,5})$/.exec(entry);
    const host = match?.[1] ?? match?.[2];
    const port = Number(match?.[3]);
    return host !== undefined && port >= 1 && port <= 65_535 ? { host, port } : undefined;
  },
};

/** The URL may hold a password: a refusal names the variable, never the value. */
const redisUrl: Format<string> = {
  means: "a redis:// or rediss:// URL",
  read: (value) => {
    try {
      const { protocol } = new URL(value);
      return protocol === "redis:" || protocol === "rediss:" ? value : undefined;
    } catch {
      return undefined;
    }
  },
};

/** The variables of the shared store. */
export const STORE = section(
  "Shared store (Redis)",
  "Where tokens and lockout counters live when replicas share them: one Redis (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`) or a primary behind Sentinel (`REDIS_SENTINELS`); set at most one of the three. With none, each replica keeps its own in-memory cache and counters. A shared store needs `TOKEN_CACHE_KEY`, the same on every replica. What is stored, managed services (ElastiCache, Memorystore, Azure) and failover are in [Redis](redis.md).",
  {
    REDIS_URL: text({
      format: redisUrl,
      secret: true,
      unset: "no single Redis",
      does: "One Redis, standalone or a managed primary endpoint: `redis://[user:password@]host:port[/db]`, or `rediss://…` for TLS.",
      details:
        "The URL carries its own user, password and TLS, so `REDIS_USERNAME`, `REDIS_PASSWORD` and `REDIS_TLS` are refused with it. It may hold a password: treat it as a secret.",
    }),
    REDIS_CLUSTER_NODES: list({
      item: redisNode,
      unset: "no Redis Cluster store",
      does: "A Redis Cluster's start-up nodes, `host:port,host:port` (`[v6]:port` for IPv6); one configuration or discovery endpoint is enough, the rest is discovered.",
      example: "redis-cluster.internal:6379",
    }),
    REDIS_SENTINELS: list({
      item: redisNode,
      unset: "no Sentinel store",
      does: "The sentinels watching the primary, `host:port,host:port`.",
      details: "Needs `REDIS_SENTINEL_MASTER`.",
      example: "s1:26379,s2:26379,s3:26379",
    }),
    REDIS_SENTINEL_MASTER: text({
      format: anyText("the monitored primary's name"),
      unset: "required with `REDIS_SENTINELS`",
      does: "The name of the primary the sentinels monitor; read with, and only with, `REDIS_SENTINELS`.",
      example: "mymaster",
    }),
    REDIS_USERNAME: text({
      format: anyText("an ACL user name"),
      unset: "the `default` user",
      does: "The ACL user (Redis 6+) for a cluster's or Sentinel's data nodes.",
      details: "Refused with `REDIS_URL` (which carries its own) and without a shared store.",
    }),
    REDIS_PASSWORD: text({
      format: anyText("a password"),
      secret: true,
      unset: "no password",
      does: "The password (AUTH token, or access key) for a cluster's or Sentinel's data nodes.",
      details: "Refused with `REDIS_URL` (which carries its own) and without a shared store.",
    }),
    REDIS_TLS: flag({
      default: false,
      does: "TLS to every cluster node, or to the Sentinel primary and the sentinels.",
      details:
        "Only `on` counts as set: `on` is refused with `REDIS_URL` (use `rediss://`) and without a shared store.",
    }),
    REDIS_TLS_CA_FILE: filePath({
      holds: "PEM file",
      unset: "Node's public roots are trusted",
      does: "A PEM file of a private CA to trust instead of the public roots (Memorystore's server CA, for one); read once at start-up.",
      details: "Needs `REDIS_TLS=on` or a `rediss://` `REDIS_URL`.",
      example: "/etc/redis-ca/server-ca.pem",
    }),
    REDIS_SENTINEL_USERNAME: text({
      format: anyText("an ACL user name"),
      unset: "the sentinels are reached without a user",
      does: "The sentinels' own ACL user, when they require one (Redis authenticates sentinels separately from data nodes).",
      details: "Read only with `REDIS_SENTINELS`.",
    }),
    REDIS_SENTINEL_PASSWORD: text({
      format: anyText("a password"),
      secret: true,
      unset: "the sentinels are reached without a password",
      does: "The sentinels' own password, when they require one.",
      details: "Read only with `REDIS_SENTINELS`.",
    }),
    REDIS_KEY_PREFIX: text({
      // Braces would start a hash tag of their own: the keys one script touches could then land in
      // different cluster slots (CROSSSLOT). Keys keep the prefix first so ACL key patterns (~prefix*) work.
      format: matching(/^[^{}]*$/, "a key prefix without { or }"),
      default: "aspose-token:",
      does: "The prefix of every key this service writes; give each deployment sharing a Redis its own.",
      details: "No `{` or `}`: they would become the cluster hash tag. An ACL user needs `~<prefix>*`.",
    }),
    REDIS_TIMEOUT_MS: integer({
      min: 10,
      max: 10_000,
      default: 250,
      does: "The longest one Redis command may take, redirections and retries included; past it that operation falls back to this replica's local state.",
    }),
    REDIS_EVICTING_POLICY: oneOf({
      allowed: EVICTING_POLICY_ACTIONS,
      default: "warn",
      does: "What to do when the server's `maxmemory-policy` can evict the lockout counters (an `allkeys-*` policy): `warn` logs it and reports `/readyz` degraded; `refuse` does too, and keeps each replica's lockout counters in its own memory until a check finds a safe policy.",
      details:
        "Tokens are shared either way, and the service starts. Where the server refuses `CONFIG GET` (most managed services), set the policy as [Redis](redis.md) says per provider.",
    }),
  },
);

const v = STORE.variables;

// Settings that only make sense for a topology given by separate variables: REDIS_URL carries its own
// user, password and TLS (redis://user:pass@host, rediss://), so one place says how to connect.
// REDIS_TLS=off is the default written out (.env.example), so only "on" counts as set.
const NOT_WITH_URL = [v.REDIS_USERNAME, v.REDIS_PASSWORD, v.REDIS_TLS] as const;
const SENTINEL_ONLY = [
  v.REDIS_SENTINEL_MASTER,
  v.REDIS_SENTINEL_USERNAME,
  v.REDIS_SENTINEL_PASSWORD,
] as const;

/** The store section from the environment. */
export function storeConfig(env: Env): StoreConfig {
  const keyPrefix = v.REDIS_KEY_PREFIX.read(env);
  const commandTimeoutMs = v.REDIS_TIMEOUT_MS.read(env);
  const evictingPolicy = v.REDIS_EVICTING_POLICY.read(env);
  const common = { keyPrefix, commandTimeoutMs, evictingPolicy };

  const given = [v.REDIS_URL, v.REDIS_CLUSTER_NODES, v.REDIS_SENTINELS].filter((topology) =>
    topology.isSet(env),
  );
  if (given.length > 1)
    throw new ConfigError(
      `Set only one of REDIS_URL, REDIS_CLUSTER_NODES, REDIS_SENTINELS (got ${given.map(({ name }) => name).join(", ")})`,
    );
  const kind = given[0]?.name;
  const isSet = (variable: Variable<unknown>): boolean =>
    variable === v.REDIS_TLS ? v.REDIS_TLS.read(env) : variable.isSet(env);
  if (kind !== "REDIS_SENTINELS") {
    for (const variable of SENTINEL_ONLY) {
      if (variable.isSet(env)) throw new ConfigError(`${variable.name} is only read with REDIS_SENTINELS`);
    }
  }
  if (kind === undefined) {
    for (const variable of [...NOT_WITH_URL, v.REDIS_TLS_CA_FILE]) {
      if (isSet(variable))
        throw new ConfigError(
          `${variable.name} needs a shared store: REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS`,
        );
    }
    return { kind: "memory" };
  }
  if (kind === "REDIS_URL") {
    for (const variable of NOT_WITH_URL) {
      if (isSet(variable))
        throw new ConfigError(
          `${variable.name} is not read with REDIS_URL: put the user, password or rediss:// in the URL`,
        );
    }
    const url = v.REDIS_URL.read(env) ?? "";
    const secure = url.startsWith("rediss:");
    const ca = caFile(env, secure, "REDIS_URL must be a rediss:// URL for REDIS_TLS_CA_FILE");
    return { kind: "redis", url, tls: secure ? { ca } : undefined, ...common };
  }
  const auth = { username: v.REDIS_USERNAME.read(env), password: v.REDIS_PASSWORD.read(env) };
  const secure = v.REDIS_TLS.read(env);
  const ca = caFile(env, secure, "REDIS_TLS_CA_FILE needs REDIS_TLS=on");
  const tls = secure ? { ca } : undefined;
  if (kind === "REDIS_CLUSTER_NODES")
    return { kind: "cluster", nodes: nodes(env, v.REDIS_CLUSTER_NODES), auth, tls, ...common };
  const masterName = v.REDIS_SENTINEL_MASTER.read(env);
  if (masterName === undefined)
    throw new ConfigError(
      "REDIS_SENTINEL_MASTER must be set with REDIS_SENTINELS (the monitored primary's name)",
    );
  const sentinelAuth = {
    username: v.REDIS_SENTINEL_USERNAME.read(env),
    password: v.REDIS_SENTINEL_PASSWORD.read(env),
  };
  return {
    kind: "sentinel",
    sentinels: nodes(env, v.REDIS_SENTINELS),
    masterName,
    auth,
    sentinelAuth,
    tls,
    ...common,
  };
}

/** A node list that is set holds at least one node (a lone comma is not a topology). */
function nodes(env: Env, variable: Variable<RedisNode[]>): RedisNode[] {
  const entries = variable.read(env);
  if (entries.length === 0) throw refuse(variable);
  return entries;
}

function caFile(env: Env, tlsOn: boolean, withoutTls: string): Buffer | undefined {
  const path = v.REDIS_TLS_CA_FILE.read(env);
  if (path === undefined) return undefined;
  if (!tlsOn) throw new ConfigError(withoutTls);
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch {
    throw refuse(v.REDIS_TLS_CA_FILE);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new ConfigError("REDIS_TLS_CA_FILE must hold PEM certificates");
  return pem;
}
