/**
 * The pod the service runs in: one locked-down container, probed on the admin port, stopped in a way
 * that drains. Both variants share it; only the store's environment differs.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import type { IPodTemplateSpec } from "kubernetes-models/v1/PodTemplateSpec";
import type { IProbe } from "kubernetes-models/v1/Probe";
import { SHUTDOWN_GRACE_MS } from "../../src/config/index.js";
import { LABELS, NAME, PORTS, SECRET, SELECTOR } from "./shape.js";

/** Where tokens and lockout counters live: this pod's memory, or a Redis every replica shares. */
export type Store = "memory" | "redis";

/** How long in-flight requests get to finish after SIGTERM (the service's SHUTDOWN_TIMEOUT_MS). */
export const SHUTDOWN_TIMEOUT_MS = 10_000;

/**
 * The preStop pause: the pod keeps serving while the endpoint controller, kube-proxy and the router
 * take it out of rotation, because the service stops accepting connections the moment SIGTERM lands.
 */
export const PRE_STOP_SECONDS = 5;

/** Past the process's own hard limit: time for the process to end and the kubelet to notice. */
const EXIT_SLACK_SECONDS = 2;

/**
 * The whole stop, from the kubelet's first step to SIGKILL: the preStop pause, then the drain
 * deadline, then what shutdown may still take (SHUTDOWN_GRACE_MS), then the slack. SIGKILL is thus
 * never what ends a healthy pod.
 */
export const TERMINATION_GRACE_SECONDS =
  PRE_STOP_SECONDS + Math.ceil((SHUTDOWN_TIMEOUT_MS + SHUTDOWN_GRACE_MS) / 1000) + EXIT_SLACK_SECONDS;

/** The official image's `node` user: numeric, so the kubelet can check runAsNonRoot. */
const USER_ID = 1000;

function fromSecret(name: string, key: string): IEnvVar {
  return { name, valueFrom: { secretKeyRef: { name: SECRET.name, key } } };
}

function environment(store: Store): IEnvVar[] {
  const always: IEnvVar[] = [
    { name: "NODE_ENV", value: "production" },
    { name: "PORT", value: String(PORTS.http) },
    { name: "ADMIN_PORT", value: String(PORTS.admin) },
    { name: "SHUTDOWN_TIMEOUT_MS", value: String(SHUTDOWN_TIMEOUT_MS) },
  ];
  if (store === "memory") return always;
  // Replicas sharing Redis must derive the same credential keys; the URL carries the password.
  return [
    ...always,
    fromSecret("TOKEN_CACHE_KEY", SECRET.tokenCacheKey),
    fromSecret("REDIS_URL", SECRET.redisUrl),
  ];
}

function probe(path: "/healthz" | "/readyz", timing: Omit<IProbe, "httpGet">): IProbe {
  return { httpGet: { path, port: "admin" }, timeoutSeconds: 2, ...timing };
}

function container(image: string, store: Store): IContainer {
  return {
    name: NAME,
    image,
    imagePullPolicy: "IfNotPresent",
    ports: [
      { name: "http", containerPort: PORTS.http, protocol: "TCP" },
      { name: "admin", containerPort: PORTS.admin, protocol: "TCP" },
    ],
    env: environment(store),
    // Measured figures behind these: docs/deploy.md. No CPU limit: CFS throttling would add latency
    // to every request for no protection the request does not already give the scheduler.
    resources: {
      requests: { cpu: "250m", memory: "256Mi" },
      limits: { memory: "512Mi" },
    },
    // Start-up takes about a second; the startup probe covers a slow node, then liveness takes over.
    startupProbe: probe("/healthz", { periodSeconds: 1, failureThreshold: 30 }),
    livenessProbe: probe("/healthz", { periodSeconds: 10, failureThreshold: 3 }),
    // /readyz turns 503 once shutdown begins and, with Redis, reports it.
    readinessProbe: probe("/readyz", { periodSeconds: 5, failureThreshold: 2 }),
    // The kubelet's own sleep: no shell or sleep binary needed in the image.
    lifecycle: { preStop: { sleep: { seconds: PRE_STOP_SECONDS } } },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: USER_ID,
      runAsGroup: USER_ID,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    },
  };
}

/** The pod template of the Deployment, for the given image and store. */
export function podTemplate(image: string, store: Store): IPodTemplateSpec {
  return {
    metadata: { labels: { ...LABELS } },
    spec: {
      containers: [container(image, store)],
      terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
      // The service never calls the Kubernetes API, and no variable may come from a Service's name.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: USER_ID,
        runAsGroup: USER_ID,
        seccompProfile: { type: "RuntimeDefault" },
      },
      // Soft spreading: replicas land on different nodes and zones when they can, and still schedule
      // on a small cluster when they cannot.
      topologySpreadConstraints: ["topology.kubernetes.io/zone", "kubernetes.io/hostname"].map(
        (topologyKey) => ({
          topologyKey,
          maxSkew: 1,
          whenUnsatisfiable: "ScheduleAnyway",
          labelSelector: { matchLabels: { ...SELECTOR } },
        }),
      ),
    },
  };
}
