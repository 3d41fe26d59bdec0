/**
 * The Kubernetes objects around the pod, one builder each, as typed models: a field the API does not
 * have fails the typecheck, a value it does not allow fails `validate()` against the API's schema.
 */
import { ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { INetworkPolicyEgressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Service } from "kubernetes-models/v1/Service";
import { podTemplate, type Store } from "./pod.js";
import { LABELS, NAME, PORTS, PROMETHEUS, REDIS_PODS, REDIS_PORT, ROUTER_PODS, SELECTOR } from "./shape.js";

const metadata = (name: string = NAME) => ({ name, labels: { ...LABELS } });

/**
 * The Deployment. With `replicas` undefined the field is left out, so the HorizontalPodAutoscaler
 * owns the count and a re-apply does not reset it.
 */
export function deployment(image: string, store: Store, replicas: number | undefined): Deployment {
  return new Deployment({
    metadata: metadata(),
    spec: {
      ...(replicas === undefined ? {} : { replicas }),
      selector: { matchLabels: { ...SELECTOR } },
      // A new pod is ready before an old one goes: a single replica rolls without a gap.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: podTemplate(image, store),
    },
  });
}

/** The router reaches the service here; Prometheus finds the admin port by name. */
export function service(): Service {
  return new Service({
    metadata: metadata(),
    spec: {
      type: "ClusterIP",
      selector: { ...SELECTOR },
      ports: [
        { name: "http", port: PORTS.http, targetPort: "http", protocol: "TCP" },
        { name: "admin", port: PORTS.admin, targetPort: "admin", protocol: "TCP" },
      ],
    },
  });
}

/** One replica at a time may be evicted; pods that are not ready may always be (a drain never waits on them). */
export function disruptionBudget(): PodDisruptionBudget {
  return new PodDisruptionBudget({
    metadata: metadata(),
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: { ...SELECTOR } },
      unhealthyPodEvictionPolicy: "AlwaysAllow",
    },
  });
}

/** Scales on CPU: the service holds no connection pool that would make memory the signal. */
export function autoscaler(minReplicas: number, maxReplicas: number): HorizontalPodAutoscaler {
  return new HorizontalPodAutoscaler({
    metadata: metadata(),
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: NAME },
      minReplicas,
      maxReplicas,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
      ],
    },
  });
}

/** Port 53 of the cluster DNS, which every name lookup (Aspose's, Redis's) needs first. */
const DNS: INetworkPolicyEgressRule = {
  to: [
    {
      namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
      podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
    },
  ],
  ports: [
    { protocol: "UDP", port: 53 },
    { protocol: "TCP", port: 53 },
  ],
};

/**
 * Aspose's API over HTTPS. A NetworkPolicy cannot name a host and Aspose's addresses are not
 * published, so this is the public internet on 443: private ranges and link-local addresses (the
 * cloud metadata endpoint among them) stay closed. A CNI with DNS-aware policies can narrow it to
 * api.aspose.cloud.
 */
const ASPOSE: INetworkPolicyEgressRule = {
  to: [
    {
      ipBlock: {
        cidr: "0.0.0.0/0",
        except: ["10.0.0.0/8", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"],
      },
    },
    { ipBlock: { cidr: "::/0", except: ["fc00::/7", "fe80::/10"] } },
  ],
  ports: [{ protocol: "TCP", port: 443 }],
};

const REDIS: INetworkPolicyEgressRule = {
  to: [{ podSelector: { matchLabels: { ...REDIS_PODS } } }],
  ports: [{ protocol: "TCP", port: REDIS_PORT }],
};

/** In: the router, on the public port only. Out: DNS, Aspose and, with a shared store, Redis. */
export function networkPolicy(store: Store): NetworkPolicy {
  return new NetworkPolicy({
    metadata: metadata(),
    spec: {
      podSelector: { matchLabels: { ...SELECTOR } },
      policyTypes: ["Ingress", "Egress"],
      ingress: [
        {
          from: [{ podSelector: { matchLabels: { ...ROUTER_PODS } } }],
          ports: [{ protocol: "TCP", port: "http" }],
        },
      ],
      egress: store === "redis" ? [DNS, ASPOSE, REDIS] : [DNS, ASPOSE],
    },
  });
}

/** Prometheus scrapes /metrics on the admin port, which the main policy keeps closed to it. */
export function scrapePolicy(): NetworkPolicy {
  return new NetworkPolicy({
    metadata: metadata(`${NAME}-prometheus`),
    spec: {
      podSelector: { matchLabels: { ...SELECTOR } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": PROMETHEUS.namespace } },
              podSelector: { matchLabels: { ...PROMETHEUS.pods } },
            },
          ],
          ports: [{ protocol: "TCP", port: "admin" }],
        },
      ],
    },
  });
}

/** For the Prometheus Operator: scrape every replica's admin port. */
export function serviceMonitor(): ServiceMonitor {
  return new ServiceMonitor({
    metadata: metadata(),
    spec: {
      selector: { matchLabels: { ...SELECTOR } },
      endpoints: [{ port: "admin", path: "/metrics", interval: "30s", scrapeTimeout: "10s" }],
    },
  });
}
