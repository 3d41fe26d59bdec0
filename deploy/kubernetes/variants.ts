/**
 * The rendered files: the service alone with its cache in memory, the service as several replicas on
 * a shared Redis, and the optional Prometheus Operator pieces. docs/deploy.md says which to apply.
 */
import { fileURLToPath } from "node:url";
import type { Model } from "@kubernetes-models/base";
import {
  autoscaler,
  deployment,
  disruptionBudget,
  networkPolicy,
  scrapePolicy,
  service,
  serviceMonitor,
} from "./objects.js";
import { DEFAULT_IMAGE } from "./shape.js";

/** Where the committed manifests live. */
export const MANIFESTS = fileURLToPath(new URL("manifests/", import.meta.url));

/** One YAML file of several documents, with what it is for. */
export interface ManifestFile {
  readonly name: string;
  readonly summary: readonly string[];
  readonly objects: readonly Model<unknown>[];
}

/** Replicas the autoscaler keeps on Redis: one per zone of a three-zone cluster, at least. */
export const MIN_REPLICAS = 3;
export const MAX_REPLICAS = 10;

/** Every file, naming `image` (the Dockerfile's output; the default names it by version). */
export function manifestFiles(image: string = DEFAULT_IMAGE): ManifestFile[] {
  return [
    {
      name: "memory.yaml",
      summary: [
        "One replica, tokens and lockout counters in its memory: no Secret, no Redis.",
        "No autoscaler or disruption budget: a second replica would keep its own cache and lockout",
        "counters (a guesser would get twice the attempts); scale with redis.yaml instead.",
      ],
      objects: [deployment(image, "memory", 1), service(), networkPolicy("memory")],
    },
    {
      name: "redis.yaml",
      summary: [
        `${MIN_REPLICAS} to ${MAX_REPLICAS} replicas sharing tokens and lockout counters in Redis.`,
        "Needs the Secret aspose-token-subgraph (token-cache-key, redis-url): see docs/deploy.md.",
      ],
      objects: [
        deployment(image, "redis", undefined),
        service(),
        disruptionBudget(),
        autoscaler(MIN_REPLICAS, MAX_REPLICAS),
        networkPolicy("redis"),
      ],
    },
    {
      name: "service-monitor.yaml",
      summary: [
        "Optional, with the Prometheus Operator: scrape /metrics on every replica's admin port.",
        "Applies to either variant.",
      ],
      objects: [serviceMonitor(), scrapePolicy()],
    },
  ];
}
