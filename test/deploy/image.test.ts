/**
 * The container image as users would build and run it: deploy/Dockerfile built with buildah (on a Node
 * base assembled here, since no registry can be pulled from), run with podman against the fake Aspose
 * on the host's loopback, locked down (uid 1000, read-only root, nothing writable), stopped while a
 * request is in flight; then the rendered Kubernetes pod specs played by `podman kube play`, one
 * replica in memory and two replicas sharing a Redis. Costs one image build per run (see
 * docs/deploy.md for the figures); under CI=true a missing tool is a failure, elsewhere a skip.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, type TestContext, test } from "node:test";
import { promisify } from "node:util";
import { GraphQLClient } from "graphql-request";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { parseAllDocuments, stringify } from "yaml";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { freePort } from "../../dev/ports.js";
import type { Child } from "../../dev/spawn.js";
import { PORTS, SECRET } from "../../deploy/kubernetes/shape.js";
import { MANIFESTS } from "../../deploy/kubernetes/variants.js";
import { containersUnavailable, ContainerEngine, uniqueName } from "../support/containers.js";
import { executeOperation } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  served,
} from "../support/harness.js";
import { REPO_ROOT, startFake } from "../support/process.js";
import { eventually, ThrowawayRedis } from "../support/replicas.js";

const execute = promisify(execFile);
const unavailable = await containersUnavailable();
// In CI the tools are installed by .ci/run: their absence is a broken CI, not a reason to skip.
if (unavailable !== undefined && process.env.CI === "true")
  throw new Error(`image tests cannot run: ${unavailable}`);
const CONTAINER_TEST = { skip: unavailable, timeout: 120_000 };

let engine: ContainerEngine;
const image = `localhost/${uniqueName("image")}:test`;
const npmrcMarker = `npmrc-marker-${randomBytes(8).toString("hex")}`;
let buildSeconds = 0;

before(
  async () => {
    if (unavailable !== undefined) return;
    engine = await ContainerEngine.create();
    const base = `localhost/${uniqueName("node-base")}:24`;
    const started = performance.now();
    await engine.buildNodeBase(base);
    await engine.buildImage(image, base, npmrcMarker);
    buildSeconds = (performance.now() - started) / 1000;
  },
  { timeout: 20 * 60_000 },
);

after(async () => {
  await engine?.close();
});

/** The ready line's ports: `port` (public) and `adminPort`. */
async function ready(logs: Child): Promise<{ port: number; adminPort: number }> {
  const line = await logs.waitForLog((entry) => typeof entry.port === "number", "its ready line", 60_000);
  return { port: Number(line.port), adminPort: Number(line.adminPort) };
}

/** Asks the service on `port` for the harness client's token, with the real GraphQL client. */
async function tokenFrom(port: number): Promise<AccessTokenFields> {
  const client = new GraphQLClient(`http://127.0.0.1:${port}/graphql`);
  const result = await executeOperation<{ accessToken: AccessTokenFields }>(client, ACCESS_TOKEN_MUTATION, {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
  });
  return served(result);
}

/** The host's process id of a container's first process; "0" while it has none. */
async function containerPid(container: string): Promise<string> {
  const { stdout } = await engine.podman(["inspect", "--format", "{{.State.Pid}}", container]);
  return stdout.trim();
}

/** The kernel's view of a container's first process: its user ids, capabilities, no_new_privs, seccomp. */
async function processStatus(container: string): Promise<Record<string, string>> {
  const status = readFileSync(`/proc/${await containerPid(container)}/status`, "utf8");
  return Object.fromEntries(status.split("\n").map((line) => line.split(/:\s*/, 2) as [string, string]));
}

async function exitCode(container: string): Promise<number> {
  const { stdout } = await engine.podman(["inspect", "--format", "{{.State.ExitCode}}", container]);
  return Number(stdout.trim());
}

/** `podman run` in the foreground as its user would, on the host's network, with a read-only root. */
function runContainer(name: string, env: Record<string, string>, options: readonly string[] = []): Child {
  const variables = Object.entries(env).flatMap(([key, value]) => ["--env", `${key}=${value}`]);
  return engine.spawnPodman([
    "run",
    "--name",
    name,
    "--network",
    "host",
    "--read-only",
    "--read-only-tmpfs=false",
    ...options,
    ...variables,
    image,
  ]);
}

/**
 * The image in the foreground against a fake upstream of its own, on free ports; removed when the
 * test ends.
 */
async function startContainer(
  t: TestContext,
  label: string,
  options: readonly string[] = [],
  env: Record<string, string> = {},
): Promise<{ fake: FakeAspose; name: string; container: Child }> {
  const fake = await startFake(t);
  const name = uniqueName(label);
  const container = runContainer(name, { ...(await containerEnv(fake)), ...env }, options);
  t.after(() => engine.podman(["rm", "--force", name]).catch(() => undefined));
  return { fake, name, container };
}

async function containerEnv(fake: FakeAspose): Promise<Record<string, string>> {
  return {
    HOST: "127.0.0.1",
    PORT: String(await freePort()),
    ADMIN_PORT: String(await freePort()),
    ASPOSE_BASE_URL: fake.url,
  };
}

test(
  "the image holds the compiled service and its production dependencies only, runs node as uid 1000, and checks /healthz",
  CONTAINER_TEST,
  async (t) => {
    const [inspected] = JSON.parse((await engine.podman(["image", "inspect", image])).stdout) as Array<{
      Size: number;
      Config: { User: string; Cmd: string[]; Entrypoint?: string[]; Env: string[]; WorkingDir: string };
      Healthcheck?: { Test: string[] };
      History: Array<{ created_by?: string }>;
    }>;
    assert.ok(inspected);
    t.diagnostic(
      `image ${(inspected.Size / 1e6).toFixed(0)} MB, built (base + service) in ${buildSeconds.toFixed(0)} s`,
    );
    assert.equal(inspected.Config.User, "1000:1000");
    assert.deepEqual(inspected.Config.Cmd, ["node", "dist/src/main.js"]);
    assert.equal(inspected.Config.Entrypoint, undefined, "no wrapper between the runtime and node");
    const env = new Map(inspected.Config.Env.map((entry) => entry.split("=", 2) as [string, string]));
    assert.equal(env.get("NODE_ENV"), "production");
    assert.equal(env.get("PORT"), String(PORTS.http), "the port the manifests probe");
    assert.equal(env.get("ADMIN_PORT"), String(PORTS.admin), "the admin port the manifests probe");
    assert.match(inspected.Healthcheck?.Test.join(" ") ?? "", /ADMIN_PORT.*\/healthz/);
    assert.doesNotMatch(
      JSON.stringify(inspected.History),
      new RegExp(npmrcMarker),
      "the npmrc secret in the history",
    );

    const { stdout } = await engine.podman(["image", "mount", image]);
    const root = stdout.trim();
    try {
      const app = join(root, "app");
      // The mounted image is read as files: the tests run as root, as podman here needs.
      assert.deepEqual(readdirSync(app).sort(), ["dist", "node_modules", "package.json", "schema"]);
      const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as {
        packages: Record<string, { dev?: boolean; optional?: boolean; devOptional?: boolean }>;
      };
      for (const [path, entry] of Object.entries(lock.packages)) {
        if (!path.startsWith("node_modules/")) continue;
        const present = existsSync(join(app, path));
        if (entry.dev === true) assert.equal(present, false, `devDependency ${path} in the image`);
        else if (!entry.optional && !entry.devOptional) assert.ok(present, `${path} missing from the image`);
      }
      const secretFound = await execute("grep", ["-r", "-l", "-F", npmrcMarker, root]).then(
        ({ stdout: files }) => files,
        () => "",
      );
      assert.equal(secretFound, "", "the build's npmrc secret reached a layer");
    } finally {
      await engine.podman(["image", "unmount", image]);
    }
  },
);

test(
  "the container serves a token from the fake upstream on the host's loopback, as uid 1000, with nothing writable",
  CONTAINER_TEST,
  async (t) => {
    const { fake, name, container } = await startContainer(t, "serve");
    const { port } = await ready(container);

    const token = await tokenFrom(port);
    assert.equal(token.tokenType, "Bearer");
    assert.equal(token.fromCache, false);
    assert.equal(fake.totalTokenRequests, 1);

    const status = await processStatus(name);
    assert.match(
      status.Uid ?? "",
      /^1000\s+1000\s+1000\s+1000$/,
      "real, effective, saved and filesystem uid",
    );
    assert.equal(status.CapEff, "0000000000000000", "no effective capabilities");
    const command = readFileSync(`/proc/${await containerPid(name)}/cmdline`, "utf8")
      .split("\0")
      .filter(Boolean);
    assert.deepEqual(command, ["node", "dist/src/main.js"], "node itself is the container's first process");

    const probe = `for (const path of ["/app/probe", "/tmp/probe", "/probe"]) { try { require("node:fs").writeFileSync(path, ""); console.log(path, "written"); } catch (error) { console.log(path, error.code); } }`;
    const { stdout } = await engine.podman(["exec", name, "node", "-e", probe]);
    assert.deepEqual(stdout.trim().split("\n"), ["/app/probe EROFS", "/tmp/probe EROFS", "/probe EROFS"]);

    // The image's HEALTHCHECK, run the way Docker and podman run it.
    await engine.podman(["healthcheck", "run", name]);
  },
);

test(
  "a stop drains: the request in flight is answered and the container exits 0 inside the grace period",
  CONTAINER_TEST,
  async (t) => {
    const { fake, name, container } = await startContainer(t, "stop");
    const { port } = await ready(container);

    const release = fake.hold();
    t.after(release);
    const inFlight = tokenFrom(port);
    await fake.waitForRequests(1);
    const graceSeconds = 30;
    const stopping = performance.now();
    // podman sends the image's STOPSIGNAL (SIGTERM) to node, and SIGKILL (exit 137) after the grace.
    const stopped = engine.podman(["stop", "--time", String(graceSeconds), name]);
    await container.waitForLog(
      (line) => line.msg === "Shutting down: finishing in-flight requests",
      "draining",
    );
    release();

    const token = await inFlight;
    assert.equal(token.tokenType, "Bearer", "the request in flight was answered with its token");
    const exit = await container.exited;
    await stopped;
    const seconds = (performance.now() - stopping) / 1000;
    t.diagnostic(`stopped in ${seconds.toFixed(2)} s with one request held by the upstream until SIGTERM`);
    assert.equal(exit.code, 0, `podman run's exit: ${container.stderr()}`);
    assert.equal(await exitCode(name), 0, "the container's own exit code (137 would mean SIGKILL)");
    assert.ok(
      container.logs.some((line) => line.msg === "Shut down cleanly" && line.cutRequests === 0),
      "no request was cut",
    );
  },
);

/** Resident memory of a process, in MiB. */
function residentMiB(pid: string): number {
  return Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;
}

test(
  "a stop while the service is still loading is held, not dropped by PID 1: it starts, drains and exits 0",
  CONTAINER_TEST,
  async (t) => {
    // A fifth of a core stretches loading to seconds: a wide window, not a race.
    const { name, container } = await startContainer(t, "early-stop", ["--cpus", "0.2"]);
    const pid = await eventually("the container's process", async () => {
      const found = await containerPid(name).catch(() => "0");
      return found === "0" ? undefined : found;
    });
    // Node alone holds about 41 MiB and the started service about 110: past 60, the service's modules
    // are loading, which is after main.ts's first lines and before the ready line.
    await eventually("the service's modules to load", () => residentMiB(pid) > 60, 30_000, 5);
    const readyAlready = container.logs.some((line) => typeof line.port === "number");
    // A signal PID 1 has no handler for is dropped by the kernel; podman stop would then SIGKILL (137).
    await engine.podman(["stop", "--time", "15", name]);
    const exit = await container.exited;
    assert.equal(readyAlready, false, "the stop came before the ready line");
    assert.equal(exit.code, 0, `exit: ${container.stderr()}`);
    assert.ok(
      container.logs.some((line) => typeof line.port === "number"),
      "it finished starting",
    );
    assert.ok(
      container.logs.some((line) => line.msg === "Shut down cleanly"),
      "then drained",
    );
  },
);

test(
  ".env.example works as the container's env file as it is, and the built-in explorer's files are in the image",
  CONTAINER_TEST,
  async (t) => {
    // --env wins over --env-file: where to listen, which upstream to call and the explorer are the test's.
    const { container } = await startContainer(
      t,
      "env-file",
      ["--env-file", join(REPO_ROOT, ".env.example")],
      {
        EXPLORER: "graphiql",
      },
    );
    const { port } = await ready(container);
    const origin = `http://127.0.0.1:${port}`;
    assert.equal((await tokenFrom(port)).tokenType, "Bearer");
    // The file's NODE_ENV=development replaced the image's production, which turns introspection off.
    const answer = await fetch(`${origin}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ query: "{ __schema { queryType { name } } }" }),
    });
    assert.deepEqual(await answer.json(), { data: { __schema: { queryType: { name: "Query" } } } });
    // The explorer's page names its files (GraphiQL, React, its own script); each is served from the image.
    const html = await (await fetch(`${origin}/graphql`, { headers: { accept: "text/html" } })).text();
    const settings = /<script type="application\/json" id="explorer-settings">(.*?)<\/script>/s.exec(
      html,
    )?.[1];
    const assets = Object.values(
      (JSON.parse(settings ?? "{}") as { assets?: Record<string, string> }).assets ?? {},
    );
    assert.equal(assets.length, 5, "GraphiQL, its CSS, React, React DOM and the page's script");
    for (const asset of assets) assert.equal((await fetch(`${origin}/${asset}`)).status, 200, asset);
  },
);

/**
 * The rendered Deployment, adapted only as far as podman on one machine requires: the test's image
 * and name, the host's network (podman then takes no port mappings), free ports, the fake upstream.
 */
function podSpecForPodman(
  file: "memory.yaml" | "redis.yaml",
  name: string,
  env: Record<string, string>,
): { yaml: string; container: string } {
  const text = readFileSync(join(MANIFESTS, file), "utf8");
  const deployment = parseAllDocuments(text)
    .map((document) => document.toJS() as IDeployment)
    .find((document) => document.kind === "Deployment");
  const pod = deployment?.spec?.template.spec;
  const container = pod?.containers[0];
  assert.ok(deployment?.metadata && pod && container);
  deployment.metadata.name = name;
  pod.hostNetwork = true;
  container.image = image;
  delete container.ports;
  const overridden = new Set(Object.keys(env));
  container.env = [
    ...(container.env ?? []).filter((variable) => !overridden.has(variable.name)),
    ...Object.entries(env).map(([key, value]) => ({ name: key, value })),
  ];
  return { yaml: stringify(deployment), container: container.name };
}

/** Plays a pod spec; resolves with its container's name and followed logs once the service is ready. */
async function play(
  t: { after: (fn: () => Promise<unknown>) => void },
  file: "memory.yaml" | "redis.yaml",
  env: Record<string, string>,
): Promise<{ pod: string; container: string; port: number; adminPort: number }> {
  const name = uniqueName("pod");
  const spec = podSpecForPodman(file, name, env);
  const path = join(engine.dir, `${name}.yaml`);
  writeFileSync(path, spec.yaml);
  await engine.podman(["kube", "play", path]);
  t.after(() => engine.podman(["kube", "down", path]).catch(() => undefined));
  const pod = `${name}-pod-0`;
  const container = `${pod}-${spec.container}`;
  const logs = engine.spawnPodman(["logs", "--follow", container]);
  t.after(() => logs.kill());
  return { pod, container, ...(await ready(logs)) };
}

test(
  "podman kube play runs the rendered one-replica pod spec: locked down as written, serves a token, stops with exit 0",
  CONTAINER_TEST,
  async (t) => {
    const fake = await startFake(t);
    const replica = await play(t, "memory.yaml", await containerEnv(fake));
    const token = await tokenFrom(replica.port);
    assert.equal(token.fromCache, false);

    const status = await processStatus(replica.container);
    assert.match(status.Uid ?? "", /^1000\s+1000\s+1000\s+1000$/, "runAsUser 1000");
    assert.equal(status.CapBnd, "0000000000000000", "capabilities: drop ALL");
    assert.equal(status.NoNewPrivs, "1", "allowPrivilegeEscalation: false");
    assert.equal(status.Seccomp, "2", "a seccomp filter (RuntimeDefault)");
    const { stdout } = await engine.podman([
      "inspect",
      "--format",
      "{{.HostConfig.ReadonlyRootfs}}",
      replica.container,
    ]);
    assert.equal(stdout.trim(), "true", "readOnlyRootFilesystem");

    await engine.podman(["pod", "stop", "--time", "30", replica.pod]);
    assert.equal(await exitCode(replica.container), 0);
  },
);

test(
  "podman kube play runs two replicas of the Redis pod spec: the key and the URL come from the Secret, and the second answers from the first's cache",
  CONTAINER_TEST,
  async (t) => {
    const fake = await startFake(t);
    const redis = await ThrowawayRedis.start();
    t.after(() => redis.kill());
    // podman 4.3 reads a Secret for kube play from its own store, as JSON of base64 values.
    const secret = join(engine.dir, "secret.json");
    const base64 = (text: string) => Buffer.from(text).toString("base64");
    writeFileSync(
      secret,
      JSON.stringify({
        [SECRET.tokenCacheKey]: base64(randomBytes(32).toString("base64")),
        [SECRET.redisUrl]: base64(`${redis.url}/0`),
      }),
    );
    await engine.podman(["secret", "create", SECRET.name, secret]);
    t.after(() => engine.podman(["secret", "rm", SECRET.name]).catch(() => undefined));

    const first = await play(t, "redis.yaml", await containerEnv(fake));
    const second = await play(t, "redis.yaml", await containerEnv(fake));
    // As the readiness probe sees it: a token asked for before a replica reaches Redis stays local.
    for (const replica of [first, second]) {
      await eventually("the replica to report Redis up", async () => {
        const answer = await fetch(`http://127.0.0.1:${replica.adminPort}/readyz`);
        return ((await answer.json()) as { redis?: string }).redis === "up";
      });
    }
    const fetched = await tokenFrom(first.port);
    assert.equal(fetched.fromCache, false);
    const shared = await tokenFrom(second.port);
    assert.equal(shared.fromCache, true, "the second replica found the first's token in Redis");
    assert.equal(shared.accessToken, fetched.accessToken);
    assert.equal(fake.totalTokenRequests, 1, "one upstream call for both replicas");

    for (const replica of [first, second]) {
      await engine.podman(["pod", "stop", "--time", "30", replica.pod]);
      assert.equal(await exitCode(replica.container), 0);
    }
  },
);
