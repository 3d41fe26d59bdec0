/**
 * Podman and buildah for the deploy tests, run the way they work on these machines and in CI: as
 * root, with runc and cgroupfs, host networking, and every byte of storage under one temporary
 * directory that `close()` removes. Nothing can be pulled from a registry, so the Node base image is
 * assembled here from the Node binary running the suite (the npm `node` package in CI), the npm that
 * runs it, a shell, and the shared libraries they link (found with ldd).
 */
import { execFile } from "node:child_process";
import {
  copyFileSync,
  cpSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statfsSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import { type Child, cleanEnvironment, REPO_ROOT, spawnChild } from "../../dev/spawn.js";

const run = promisify(execFile);

/** The tools the image tests need, and how to get them (`.ci/run` installs them). */
export const CONTAINER_TOOLS = ["podman", "buildah", "runc"] as const;

/**
 * Why the image tests cannot run here, in one line, or undefined when they can. Under CI=true the
 * caller fails with it; elsewhere it skips.
 */
export async function containersUnavailable(): Promise<string | undefined> {
  const missing: string[] = [];
  for (const tool of CONTAINER_TOOLS) {
    await run(tool, ["--version"]).catch(() => missing.push(tool));
  }
  if (missing.length > 0)
    return `${missing.join(", ")} not installed: apt-get install podman buildah runc (as .ci/run does)`;
  if (process.getuid?.() !== 0) return "the image tests run podman as root, as CI does";
  return undefined;
}

/** A unique name for something a test creates, so parallel runs never collide. */
export function uniqueName(label: string): string {
  return `aspose-token-subgraph-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The open-file limits of this process, passed on to every container (podman's default exceeds them). */
function openFileLimits(): string {
  const line = /^Max open files\s+(\d+)\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  return line === null ? "1024:1024" : `${line[1]}:${line[2]}`;
}

/**
 * Where the storage goes: shared memory when it has room (a build writes, and a clean-up deletes, some
 * 40,000 files: minutes on a busy virtual disk, a second in memory; the peak is under 1 GB), else the
 * temporary directory.
 */
function storageParent(): string {
  try {
    const { bavail, bsize } = statfsSync("/dev/shm");
    if (bavail * bsize >= 4 * 2 ** 30) return "/dev/shm";
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

/** The executable `name` on PATH, with symlinks resolved. */
function onPath(name: string): string | undefined {
  for (const directory of (process.env.PATH ?? "").split(delimiter)) {
    try {
      return realpathSync(join(directory, name));
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/** The directory of the npm package running here (npm_execpath under `npm test`, else npm on PATH). */
function npmPackage(): string {
  const cli = process.env.npm_execpath ?? onPath("npm");
  if (cli === undefined) throw new Error("npm not found: it must be on PATH");
  let directory = dirname(realpathSync(cli));
  while (directory !== dirname(directory)) {
    try {
      const manifest = JSON.parse(readFileSync(join(directory, "package.json"), "utf8")) as { name?: string };
      if (manifest.name === "npm") return directory;
    } catch {
      // no package.json here: go up
    }
    directory = dirname(directory);
  }
  throw new Error(`no npm package above ${cli}`);
}

/** The shared libraries `binary` links, as absolute paths (ld.so included). */
async function linkedLibraries(binary: string): Promise<string[]> {
  const { stdout } = await run("ldd", [binary]);
  return [...stdout.matchAll(/(?:=>\s*|^\s*)(\/\S+)/gm)].flatMap((match) => (match[1] ? [match[1]] : []));
}

/** Places `source` at `target`: a hard link when the filesystem allows, else a copy (symlinks followed). */
function place(source: string, target: string): void {
  mkdirSync(dirname(target), { recursive: true });
  const file = realpathSync(source);
  try {
    linkSync(file, target);
  } catch {
    copyFileSync(file, target);
  }
}

/** A podman/buildah installation confined to a temporary directory, with the settings CI needs. */
export class ContainerEngine {
  readonly dir: string;
  readonly #env: Record<string, string>;

  private constructor(dir: string, env: Record<string, string>) {
    this.dir = dir;
    this.#env = env;
  }

  /**
   * Configures storage and runtime under a new temporary directory: overlay storage where the kernel
   * allows it (vfs copies every layer in full), runc with cgroupfs (crun fails on these machines'
   * rlimits and cgroups), events to a file, and the ulimits this process has.
   */
  static async create(): Promise<ContainerEngine> {
    const dir = mkdtempSync(join(storageParent(), "aspose-token-subgraph-containers-"));
    const containersConf = join(dir, "containers.conf");
    writeFileSync(
      containersConf,
      [
        "[containers]",
        `default_ulimits = ["nofile=${openFileLimits()}", "nproc=4096:4096"]`,
        "[engine]",
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        // File locks in tmp_dir, not the machine-wide shared-memory segment every podman shares.
        'lock_type = "file"',
        `events_logfile_path = "${join(dir, "events.log")}"`,
        'runtime = "runc"',
        `tmp_dir = "${join(dir, "libpod")}"`,
        "",
      ].join("\n"),
    );
    mkdirSync(join(dir, "tmp"));
    const env: Record<string, string> = {
      CONTAINERS_CONF: containersConf,
      CONTAINERS_STORAGE_CONF: join(dir, "storage.conf"),
      TMPDIR: join(dir, "tmp"),
    };
    for (const name of ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY"]) {
      const value = process.env[name];
      if (value !== undefined) env[name] = value;
    }
    const engine = new ContainerEngine(dir, env);
    for (const driver of ["overlay", "vfs"]) {
      writeFileSync(
        env.CONTAINERS_STORAGE_CONF ?? "",
        `[storage]\ndriver = "${driver}"\ngraphroot = "${join(dir, "storage")}"\nrunroot = "${join(dir, "run")}"\n`,
      );
      const works = await engine.podman(["info", "--format", "{{.Store.GraphDriverName}}"]).then(
        () => true,
        () => false,
      );
      if (works) return engine;
    }
    rmSync(dir, { recursive: true, force: true });
    throw new Error("podman works with neither the overlay nor the vfs storage driver here");
  }

  /** The environment every podman and buildah call runs with. */
  get env(): Record<string, string> {
    return { ...cleanEnvironment(), ...this.#env };
  }

  /** Runs podman to completion; rejects with its stderr when it fails. */
  podman(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.#run("podman", args);
  }

  /** Runs buildah to completion; rejects with its stderr when it fails. */
  buildah(args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    return this.#run("buildah", args);
  }

  /** Starts podman and reads its output (`run` attached, `logs -f`): the one spawner's Child. */
  spawnPodman(args: readonly string[]): Child {
    return spawnChild({ command: "podman", args, env: this.#env });
  }

  async #run(tool: string, args: readonly string[]): Promise<{ stdout: string; stderr: string }> {
    try {
      return await run(tool, [...args], { env: this.env, cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      const { stderr = "", stdout = "" } = error as { stderr?: string; stdout?: string };
      const output = `${stdout}\n${stderr}`.trim().split("\n").slice(-30).join("\n");
      throw new Error(`${tool} ${args.join(" ")} failed:\n${output}`);
    }
  }

  /**
   * Builds a Node base image FROM scratch: this Node binary, this npm, /bin/sh and /usr/bin/env (for
   * the Dockerfile's RUN lines and npm's shebang), their libraries, and the official image's `node`
   * user (uid 1000) in /etc/passwd.
   */
  async buildNodeBase(tag: string): Promise<void> {
    const context = join(this.dir, "base");
    const root = join(context, "rootfs");
    const binaries = {
      "/usr/local/bin/node": realpathSync(process.execPath),
      "/bin/sh": realpathSync("/bin/sh"),
      "/usr/bin/env": realpathSync("/usr/bin/env"),
    };
    for (const [target, source] of Object.entries(binaries)) place(source, join(root, target));
    const libraries = new Set((await Promise.all(Object.values(binaries).map(linkedLibraries))).flat());
    for (const library of libraries) place(library, join(root, library));
    cpSync(npmPackage(), join(root, "usr/local/lib/node_modules/npm"), {
      recursive: true,
      dereference: true,
    });
    mkdirSync(join(root, "usr/local/bin"), { recursive: true });
    for (const tool of ["npm", "npx"])
      symlinkSync(`../lib/node_modules/npm/bin/${tool}-cli.js`, join(root, "usr/local/bin", tool));
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n",
    );
    writeFileSync(join(root, "etc/group"), "root:x:0:\nnode:x:1000:\n");
    mkdirSync(join(root, "tmp"), { mode: 0o1777 });
    mkdirSync(join(root, "root"), { mode: 0o700 });
    writeFileSync(
      join(context, "Containerfile"),
      "FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n",
    );
    await this.buildah(["bud", "--isolation", "chroot", "--tag", tag, context]);
    rmSync(context, { recursive: true, force: true });
  }

  /**
   * Builds deploy/Dockerfile from the repository on `base`, in Docker's format (which keeps the
   * HEALTHCHECK). npm inside the build reads this machine's npm cache, prefers it to the registry,
   * and trusts the CA this machine's npm trusts: an npmrc passed as the build secret the Dockerfile
   * documents, so nothing of it reaches the image (`npmrcMarker` is written into it to check that).
   */
  async buildImage(tag: string, base: string, npmrcMarker: string): Promise<void> {
    const npm = await npmSettings();
    const npmrc = join(this.dir, "npmrc");
    const inBuild = "/var/cache/host-npm";
    writeFileSync(
      npmrc,
      [
        // Lets a test prove the secret reached no layer.
        `; ${npmrcMarker}`,
        `cache=${inBuild}`,
        "prefer-offline=true",
        "update-notifier=false",
        ...(npm.cafile === undefined ? [] : [`cafile=${npm.cafile}`]),
        "",
      ].join("\n"),
    );
    await this.buildah([
      "bud",
      "--isolation",
      "chroot",
      // One stage at a time. Run side by side (--jobs 2), buildah 1.28 failed 1 clean-clone CI run in 3:
      // the final stage's COPY --from found the dependency stage's overlay gone ("chdir …/merged: no
      // such file or directory") while the build stage's npm ci reported files vanishing under it.
      "--jobs",
      "1",
      "--format",
      "docker",
      "--ulimit",
      `nofile=${openFileLimits()}`,
      "--build-arg",
      `NODE_IMAGE=${base}`,
      "--secret",
      `id=npmrc,src=${npmrc}`,
      "--volume",
      `${npm.cache}:${inBuild}`,
      ...(npm.cafile === undefined ? [] : ["--volume", `${npm.cafile}:${npm.cafile}:ro`]),
      "--file",
      "deploy/Dockerfile",
      "--tag",
      tag,
      REPO_ROOT,
    ]);
  }

  /**
   * Removes every pod, container, image and secret made here, then the directory. (Not `podman system
   * reset`: that also deletes the machine's networks, which other users of podman may have.)
   */
  async close(): Promise<void> {
    for (const args of [
      ["pod", "rm", "--all", "--force"],
      ["rm", "--all", "--force"],
      ["rmi", "--all", "--force"],
      ["secret", "rm", "--all"],
    ]) {
      await this.podman(args).catch(() => undefined);
    }
    // A storage mount a crash left behind would make the removal fail with EBUSY.
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((line) => line.split(" ")[4] ?? "")
      .filter((point) => point.startsWith(this.dir));
    for (const point of mounts.reverse()) await run("umount", ["--lazy", point]).catch(() => undefined);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Where this machine's npm keeps its cache, and the CA file it trusts (a TLS-inspecting proxy's). */
async function npmSettings(): Promise<{ cache: string; cafile: string | undefined }> {
  const { stdout } = await run(
    process.execPath,
    [join(npmPackage(), "bin/npm-cli.js"), "config", "list", "--json"],
    {
      env: { ...process.env },
    },
  );
  const config = JSON.parse(stdout) as { cache?: string; cafile?: string | null };
  const cafile = config.cafile ?? process.env.NODE_EXTRA_CA_CERTS;
  return { cache: config.cache ?? join(process.env.HOME ?? "/root", ".npm"), cafile: cafile || undefined };
}
