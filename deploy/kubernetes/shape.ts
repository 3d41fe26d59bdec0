/**
 * What every manifest agrees on: the service's name and labels, its two ports, the Secret it reads,
 * and the pods it talks to. Change a fact here and `npm run deploy:render` carries it everywhere.
 */
import { SERVICE_VERSION } from "../../src/version.js";

export const NAME = "aspose-token-subgraph";

/** The selector of every object that picks the service's pods; stable across versions. */
export const SELECTOR = { "app.kubernetes.io/name": NAME } as const;

/** Labels on every object; the version is never part of a selector (a selector cannot change). */
export const LABELS = {
  ...SELECTOR,
  "app.kubernetes.io/component": "subgraph",
  "app.kubernetes.io/version": SERVICE_VERSION,
} as const;

/**
 * The public port (GraphQL, for the router) and the admin port (probes and /metrics, for the kubelet
 * and Prometheus), by name in every probe, Service and policy, by number only here. The image sets the
 * same numbers (deploy/Dockerfile); the suite checks that they agree.
 */
export const PORTS = { http: 4000, admin: 4001 } as const;

/**
 * The Secret holding what must not sit in a manifest: the cache key every replica shares, and the
 * Redis URL with its password. Created by the operator (docs/deploy.md), never rendered here.
 */
export const SECRET = {
  name: NAME,
  tokenCacheKey: "token-cache-key",
  redisUrl: "redis-url",
} as const;

/**
 * The only callers: Apollo Router's pods as its Helm chart labels them, in the service's namespace.
 * A router elsewhere (or Hive Gateway) needs this selector changed, with a namespaceSelector.
 */
export const ROUTER_PODS = { "app.kubernetes.io/name": "router" } as const;

/** An in-cluster Redis in the service's namespace (a managed Redis: an ipBlock instead). */
export const REDIS_PODS = { "app.kubernetes.io/name": "redis" } as const;
export const REDIS_PORT = 6379;

/** Prometheus as kube-prometheus-stack runs it, for the optional ServiceMonitor's scrapes. */
export const PROMETHEUS = {
  namespace: "monitoring",
  pods: { "app.kubernetes.io/name": "prometheus" },
} as const;

/** The image the manifests name unless `--image` says otherwise: the Dockerfile's output, by version. */
export const DEFAULT_IMAGE = `${NAME}:${SERVICE_VERSION}`;
