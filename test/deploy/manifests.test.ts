/**
 * The Kubernetes manifests an operator applies (deploy/kubernetes/manifests/*.yaml), read as files:
 * rendered from the typed code without drift, valid against the Kubernetes API's schemas offline, and
 * saying what the service needs: probes on the admin port, a grace period longer than the shutdown
 * deadline, a locked-down pod, secrets only from the Secret, an environment the service accepts, and
 * network policies that let in only the router and out only DNS, Aspose and Redis.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IService } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";
import { validateDocument } from "../../deploy/kubernetes/validate.js";
import { MANIFESTS, manifestFiles } from "../../deploy/kubernetes/variants.js";
import { renderFile } from "../../deploy/kubernetes/yaml.js";
import { CONFIG_SECTIONS, loadConfig, SHUTDOWN_GRACE_MS } from "../../src/config/index.js";

type Document = Record<string, unknown> & { apiVersion: string; kind: string };

/** The documents of a committed manifest file, as parsed YAML. */
function documents(file: string): Document[] {
  const text = readFileSync(join(MANIFESTS, file), "utf8");
  return parseAllDocuments(text).map((document) => document.toJS() as Document);
}

function only<T>(docs: Document[], kind: string): T {
  const found = docs.filter((doc) => doc.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0] as unknown as T;
}

function workload(file: string): { deployment: IDeployment; container: IContainer } {
  const deployment = only<IDeployment>(documents(file), "Deployment");
  const container = deployment.spec?.template.spec?.containers[0];
  assert.ok(container, `${file}: a container`);
  return { deployment, container };
}

const VARIANTS = ["memory.yaml", "redis.yaml"] as const;

/** The service's variables by name, from the declarations (which say which are secrets). */
const DECLARED = new Map(
  CONFIG_SECTIONS.flatMap((section) => Object.values(section.variables)).map((variable) => [
    variable.name,
    variable,
  ]),
);

test("the committed manifests are exactly what deploy/kubernetes renders", () => {
  for (const file of manifestFiles()) {
    const committed = readFileSync(join(MANIFESTS, file.name), "utf8");
    assert.equal(committed, renderFile(file), `${file.name} drifted: run npm run deploy:render`);
  }
});

test("every document is valid against the Kubernetes API schemas, offline", () => {
  for (const file of manifestFiles()) {
    const docs = documents(file.name);
    assert.ok(docs.length > 0, file.name);
    for (const doc of docs) validateDocument(doc);
  }
});

test("the validator refuses what the API server would refuse", () => {
  const { deployment } = workload("redis.yaml");
  const broken: Array<[string, (doc: IDeployment) => void, RegExp]> = [
    [
      "a port given as text",
      (doc) =>
        Object.assign(doc.spec?.template.spec?.containers[0]?.ports?.[0] ?? {}, { containerPort: "4000" }),
      /containerPort must be integer/,
    ],
    [
      "an unknown seccomp profile",
      (doc) =>
        Object.assign(doc.spec?.template.spec?.securityContext ?? {}, {
          seccompProfile: { type: "Default" },
        }),
      /seccompProfile\/type must be equal to one of the allowed values/,
    ],
    [
      "a container without a name",
      (doc) => Object.assign(doc.spec?.template.spec?.containers[0] ?? {}, { name: undefined }),
      /must have required property name/,
    ],
    [
      "a memory request that is not a quantity",
      (doc) =>
        Object.assign(doc.spec?.template.spec?.containers[0]?.resources?.requests ?? {}, { memory: "lots" }),
      /quantity/,
    ],
  ];
  for (const [what, breakIt, expected] of broken) {
    const copy = structuredClone(deployment);
    breakIt(copy);
    assert.throws(() => validateDocument(copy), expected, what);
  }
  assert.throws(
    () => validateDocument({ apiVersion: "v1", kind: "Secret" }),
    /no schema for apiVersion v1, kind Secret/,
  );
});

test("probes ask the admin port: startup and liveness /healthz, readiness /readyz", () => {
  for (const file of VARIANTS) {
    const { container } = workload(file);
    const adminPort = container.ports?.find((port) => port.name === "admin")?.containerPort;
    assert.equal(String(adminPort), container.env?.find((env) => env.name === "ADMIN_PORT")?.value, file);
    assert.equal(container.startupProbe?.httpGet?.port, "admin", file);
    assert.equal(container.startupProbe?.httpGet?.path, "/healthz", file);
    assert.equal(container.livenessProbe?.httpGet?.port, "admin", file);
    assert.equal(container.livenessProbe?.httpGet?.path, "/healthz", file);
    assert.equal(container.readinessProbe?.httpGet?.port, "admin", file);
    assert.equal(container.readinessProbe?.httpGet?.path, "/readyz", file);
  }
});

test("the grace period outlasts the preStop pause, the drain deadline and the shutdown's own grace", () => {
  for (const file of VARIANTS) {
    const { deployment, container } = workload(file);
    const preStop = container.lifecycle?.preStop?.sleep?.seconds;
    assert.ok(typeof preStop === "number" && preStop > 0, `${file}: a preStop sleep`);
    const deadlineMs = Number(container.env?.find((env) => env.name === "SHUTDOWN_TIMEOUT_MS")?.value);
    assert.ok(deadlineMs > 0, `${file}: SHUTDOWN_TIMEOUT_MS set`);
    const grace = deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
    assert.ok(
      grace > preStop + (deadlineMs + SHUTDOWN_GRACE_MS) / 1000,
      `${file}: terminationGracePeriodSeconds ${grace} must exceed ${preStop} + (${deadlineMs} + ${SHUTDOWN_GRACE_MS}) / 1000`,
    );
  }
});

test("the pod runs locked down: non-root, read-only root, no capabilities, RuntimeDefault seccomp, no API token", () => {
  for (const file of VARIANTS) {
    const { deployment, container } = workload(file);
    const pod = deployment.spec?.template.spec;
    assert.equal(pod?.securityContext?.runAsNonRoot, true, file);
    assert.ok((pod?.securityContext?.runAsUser ?? 0) > 0, `${file}: a numeric non-root user`);
    assert.equal(pod?.securityContext?.seccompProfile?.type, "RuntimeDefault", file);
    assert.equal(pod?.automountServiceAccountToken, false, file);
    const locked = container.securityContext;
    assert.equal(locked?.readOnlyRootFilesystem, true, file);
    assert.equal(locked?.allowPrivilegeEscalation, false, file);
    assert.deepEqual(locked?.capabilities?.drop, ["ALL"], file);
    assert.equal(locked?.capabilities?.add, undefined, file);
    assert.ok(container.resources?.requests?.cpu && container.resources.requests.memory, `${file}: requests`);
    assert.ok(container.resources?.limits?.memory, `${file}: a memory limit`);
  }
});

test("the service accepts each variant's environment: every name declared, every secret from the Secret", () => {
  const secretValues: Record<string, string> = {
    "token-cache-key": randomBytes(32).toString("base64"),
    "redis-url": "redis://:a-password@redis:6379/0",
  };
  const expectedStore = { "memory.yaml": "memory", "redis.yaml": "redis" } as const;
  for (const file of VARIANTS) {
    const { container } = workload(file);
    const env: Record<string, string> = {};
    for (const variable of container.env ?? []) {
      const ref = variable.valueFrom?.secretKeyRef;
      const declared = DECLARED.get(variable.name);
      assert.ok(declared, `${file}: ${variable.name} is not a variable the service reads`);
      if (declared.secret)
        assert.ok(ref && variable.value === undefined, `${file}: ${variable.name} only from a Secret`);
      const value = ref === undefined ? variable.value : secretValues[ref.key];
      assert.ok(value !== undefined, `${file}: ${variable.name} has a value`);
      env[variable.name] = value;
    }
    const config = loadConfig(env);
    assert.equal(config.store.kind, expectedStore[file], file);
    assert.equal(config.server.nodeEnv, "production", file);
    assert.equal(
      config.server.admin?.port,
      container.ports?.find((port) => port.name === "admin")?.containerPort,
    );
    assert.equal(config.server.port, container.ports?.find((port) => port.name === "http")?.containerPort);
  }
});

test("one replica in memory; on Redis the autoscaler owns the count and a budget bounds evictions", () => {
  const memory = documents("memory.yaml");
  assert.equal(only<IDeployment>(memory, "Deployment").spec?.replicas, 1);
  assert.deepEqual(
    memory.map((doc) => doc.kind),
    ["Deployment", "Service", "NetworkPolicy"],
  );
  const redis = documents("redis.yaml");
  const deployment = only<IDeployment>(redis, "Deployment");
  assert.equal(deployment.spec?.replicas, undefined, "no replicas field for a re-apply to reset");
  const podLabels = deployment.spec?.template.metadata?.labels ?? {};
  const selects = (selector: Record<string, string> | undefined): boolean =>
    Object.entries(selector ?? { none: "" }).every(([key, value]) => podLabels[key] === value);
  const hpa = only<IHorizontalPodAutoscaler>(redis, "HorizontalPodAutoscaler");
  assert.deepEqual(hpa.spec?.scaleTargetRef, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: deployment.metadata?.name,
  });
  assert.ok((hpa.spec?.minReplicas ?? 0) >= 2, "at least two replicas");
  const pdb = only<IPodDisruptionBudget>(redis, "PodDisruptionBudget");
  assert.ok(selects(pdb.spec?.selector?.matchLabels), "the budget selects the pods");
  assert.equal(pdb.spec?.maxUnavailable, 1);
  for (const docs of [memory, redis]) {
    assert.ok(selects(only<IService>(docs, "Service").spec?.selector), "the Service selects the pods");
    assert.ok(
      selects(only<INetworkPolicy>(docs, "NetworkPolicy").spec?.podSelector?.matchLabels),
      "the policy selects the pods",
    );
  }
});

test("network policy: in only from the router to the public port; out only to DNS, Aspose (443, no private range) and Redis", () => {
  for (const file of VARIANTS) {
    const policy = only<INetworkPolicy>(documents(file), "NetworkPolicy");
    assert.deepEqual(policy.spec?.policyTypes, ["Ingress", "Egress"], file);
    assert.deepEqual(policy.spec?.ingress, [
      {
        from: [{ podSelector: { matchLabels: { "app.kubernetes.io/name": "router" } } }],
        ports: [{ protocol: "TCP", port: "http" }],
      },
    ]);
    const egress = policy.spec?.egress ?? [];
    for (const rule of egress) {
      assert.ok(
        (rule.to?.length ?? 0) > 0 && (rule.ports?.length ?? 0) > 0,
        `${file}: every egress rule names peers and ports`,
      );
    }
    const ports = egress.flatMap((rule) => (rule.ports ?? []).map((port) => `${port.protocol}/${port.port}`));
    assert.deepEqual(
      ports.sort(),
      (file === "redis.yaml"
        ? ["TCP/443", "TCP/53", "TCP/6379", "UDP/53"]
        : ["TCP/443", "TCP/53", "UDP/53"]
      ).sort(),
      file,
    );
    const https = egress.find((rule) => rule.ports?.some((port) => port.port === 443));
    const v4 = https?.to?.find((peer) => peer.ipBlock?.cidr === "0.0.0.0/0")?.ipBlock?.except ?? [];
    for (const closed of ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"])
      assert.ok(v4.includes(closed), `${file}: ${closed} closed on 443`);
  }
  const scrape = only<INetworkPolicy>(documents("service-monitor.yaml"), "NetworkPolicy");
  assert.deepEqual(scrape.spec?.policyTypes, ["Ingress"], "the scrape policy only adds an ingress");
  assert.deepEqual(scrape.spec?.ingress?.[0]?.ports, [{ protocol: "TCP", port: "admin" }]);
});
