/**
 * Offline validation of manifest documents against the Kubernetes API's own schemas: kubernetes-models
 * compiles the API's OpenAPI definitions (Kubernetes 1.36) into JSON-schema validators, and its
 * Prometheus Operator package does the same from the operator's CRDs, so no cluster is needed.
 */
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";

/** A model class: recognises its apiVersion and kind, and validates the data it is built from. */
interface Kind {
  readonly kind: string;
  is(value: unknown): boolean;
  new (data: never): { validate(): void };
}

/** The kinds the manifests use; a document of any other kind is refused rather than let through. */
const KINDS: readonly Kind[] = [
  Deployment,
  Service,
  PodDisruptionBudget,
  HorizontalPodAutoscaler,
  NetworkPolicy,
  ServiceMonitor,
];

/** Throws, naming the document and the offending field, unless `document` is valid for its apiVersion and kind. */
export function validateDocument(document: unknown): void {
  const model = KINDS.find((kind) => kind.is(document));
  if (model === undefined) {
    const { apiVersion, kind } = (document ?? {}) as { apiVersion?: unknown; kind?: unknown };
    throw new Error(`no schema for apiVersion ${String(apiVersion)}, kind ${String(kind)}`);
  }
  const { metadata } = document as { metadata?: { name?: string } };
  try {
    // Any data may be handed to a model: validate() is what checks it against the kind's schema.
    new model(document as never).validate();
  } catch (error) {
    throw new Error(`${model.kind} ${metadata?.name ?? "(unnamed)"}: ${(error as Error).message}`);
  }
}
