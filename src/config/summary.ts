/**
 * What a Config says, in the shape the start-up line logs it: where state lives, whether and where
 * spans go, the limits in force, who may call, the upstream. Built from an allow-list of fields, never by copying the
 * Config: passwords, keys and Redis URLs (which may carry a password) have no field here.
 */
import type { Config } from "./index.js";
import type { PerimeterConfig } from "./perimeter.js";
import type { RedisNode, StoreConfig } from "./store-types.js";
import type { TracingConfig } from "./telemetry.js";

/** The start-up line's description of the store: its kind, and the servers it reaches. */
export type StoreSummary =
  | { readonly kind: "memory" }
  | {
      readonly kind: "redis" | "cluster" | "sentinel";
      /** host:port of the Redis server, the cluster's start-up nodes, or the sentinels. */
      readonly nodes: readonly string[];
      readonly tls: boolean;
      readonly keyPrefix: string;
      /** The primary Sentinel is asked for. */
      readonly masterName?: string;
    };

/** The start-up line's description of tracing. */
export type TracingSummary =
  | "off"
  | {
      readonly exporter: "otlp";
      readonly protocol: string;
      /** The traces URL: it can hold no credentials or query (see formats.ts). */
      readonly endpoint: string;
      readonly sampler: string;
    };

/** Everything the start-up line states about the configuration. */
export interface ConfigSummary {
  readonly nodeEnv: string;
  readonly store: StoreSummary;
  readonly tracing: TracingSummary;
  readonly explorer: string;
  readonly introspection: boolean;
  readonly limits: {
    readonly bodyBytes: number;
    readonly maxConnections: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly listenBacklog: number;
    readonly minBodyBytesPerSecond: number;
    readonly bodyBudgetBytes: number;
    readonly maxConnectionsPerAddress: number;
    readonly trustedProxyConnections: string;
    readonly pipelineDepth: number;
    readonly sendTimeoutMs: number;
  };
  readonly lockout: {
    readonly threshold: number;
    readonly windowSeconds: number;
    readonly baseSeconds: number;
    readonly maxSeconds: number;
  };
  /** Who may call /graphql: the router's proofs required (none: anyone), TLS, trusted documents. */
  readonly perimeter: {
    readonly routerOnly: readonly ("shared-secret" | "hmac" | "client-certificate")[];
    readonly tls: boolean;
    /** How many operations the trusted-documents list holds; undefined: no list. */
    readonly trustedDocuments: number | undefined;
  };
  /** The upstream's host (and port, when not the scheme's). */
  readonly upstreamHost: string;
  /** Where audit lines go, whose key makes their identifiers (never the key), what they hold. */
  readonly audit: {
    readonly log: "stdout" | "stderr" | "file" | "off";
    readonly key: "explicit" | "derived" | "per-process";
    readonly clientId: "hmac" | "clear";
    readonly cacheHits: boolean;
  };
}

/** The loggable description of a Config: no secret has a field in it. */
export function describeConfig(config: Config): ConfigSummary {
  const { server, limits } = config;
  return {
    nodeEnv: server.nodeEnv,
    store: describeStore(config.store),
    tracing: describeTracing(config.telemetry.tracing),
    explorer: server.explorer,
    introspection: server.introspection,
    limits: {
      bodyBytes: limits.bodyLimitBytes,
      maxConnections: server.maxConnections,
      headersTimeoutMs: server.requestHeadersTimeoutMs,
      requestTimeoutMs: server.edge.requestTimeoutMs,
      listenBacklog: server.listenBacklog,
      minBodyBytesPerSecond: server.edge.minBodyBytesPerSecond,
      bodyBudgetBytes: server.edge.bodyBudgetBytes,
      maxConnectionsPerAddress: server.edge.maxConnectionsPerAddress,
      trustedProxyConnections: server.edge.proxyAccounting,
      pipelineDepth: server.edge.pipelineDepth,
      sendTimeoutMs: server.edge.sendTimeoutMs,
    },
    lockout: {
      threshold: limits.lockout.threshold,
      windowSeconds: limits.lockout.windowSeconds,
      baseSeconds: limits.lockout.baseSeconds,
      maxSeconds: limits.lockout.maxSeconds,
    },
    perimeter: describePerimeter(config.perimeter),
    upstreamHost: new URL(config.upstream.baseUrl).host,
    audit: {
      log: config.audit.destination.kind,
      key: config.audit.keySource,
      clientId: config.audit.clientId,
      cacheHits: config.audit.cacheHits,
    },
  };
}

function describePerimeter(perimeter: PerimeterConfig): ConfigSummary["perimeter"] {
  const proofs: ("shared-secret" | "hmac" | "client-certificate")[] = [];
  if (perimeter.sharedSecret !== undefined) proofs.push("shared-secret");
  if (perimeter.hmacSecrets.length > 0) proofs.push("hmac");
  if (perimeter.tls?.clientCaFile !== undefined) proofs.push("client-certificate");
  return {
    routerOnly: proofs,
    tls: perimeter.tls !== undefined,
    trustedDocuments: perimeter.trustedDocuments?.documents.size,
  };
}

function describeStore(store: StoreConfig): StoreSummary {
  const address = (node: RedisNode): string => `${node.host}:${node.port}`;
  const shared = { tls: store.kind !== "memory" && store.tls !== undefined };
  switch (store.kind) {
    case "memory":
      return { kind: "memory" };
    case "redis": {
      // The URL may carry a password: only its host and port are named; TLS is its scheme's.
      const url = new URL(store.url);
      const node = { host: url.hostname, port: url.port === "" ? 6379 : Number(url.port) };
      return {
        kind: "redis",
        nodes: [address(node)],
        tls: url.protocol === "rediss:",
        keyPrefix: store.keyPrefix,
      };
    }
    case "cluster":
      return { kind: "cluster", nodes: store.nodes.map(address), ...shared, keyPrefix: store.keyPrefix };
    case "sentinel":
      return {
        kind: "sentinel",
        nodes: store.sentinels.map(address),
        ...shared,
        keyPrefix: store.keyPrefix,
        masterName: store.masterName,
      };
  }
}

function describeTracing(tracing: TracingConfig): TracingSummary {
  if (tracing.exporter === "none") return "off";
  const sampler = tracing.sampler.endsWith("traceidratio")
    ? `${tracing.sampler}(${tracing.samplerRatio})`
    : tracing.sampler;
  return { exporter: "otlp", protocol: tracing.protocol, endpoint: tracing.endpoint, sampler };
}
