/**
 * The clients of the flood scenarios: attackers that hold many connections open and reopen them as
 * soon as the service closes them, and the well-behaved clients measured while they do. Every
 * connection comes from a loopback address of its own kind (127.0.0.0/8 all reaches the service), so
 * the service sees attackers and neighbours as different clients, as it would on a network.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { once } from "node:events";
import { Agent, request } from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** How one attacking connection starts and what it does after. */
export interface AttackSpec {
  readonly port: number;
  /** Connections held open at once. */
  readonly connections: number;
  /** Source addresses, taken in turn. */
  readonly addresses: readonly string[];
  /** What each connection writes as soon as it is open. */
  readonly opening: string;
  /** One byte every this many ms after the opening (a trickle); undefined: nothing more. */
  readonly trickleMs?: number;
  /** Never read what the service sends (its answers pile up). */
  readonly neverRead?: boolean;
  /** How soon a connection the service closed is opened again. */
  readonly reopenMs: number;
}

/** What an attack saw. */
export interface AttackStats {
  opened: number;
  /** Connections the service closed (not the attacker). */
  closedByService: number;
  /** How long each connection the service closed was held open, ms. */
  readonly heldMs: number[];
  /** Answers the service sent, by status (only for attackers that read). */
  readonly statuses: Record<string, number>;
}

/** An attack in progress: holds its connections until `stop()`. */
export class Attack {
  readonly stats: AttackStats = { opened: 0, closedByService: 0, heldMs: [], statuses: {} };
  readonly #spec: AttackSpec;
  readonly #sockets = new Set<Socket>();
  #stopped = false;
  #next = 0;
  #unsettled: number;
  readonly #established: () => void;

  /** Opens the connections; `established` is called once each has opened (its opening written) or closed. */
  constructor(spec: AttackSpec, established: () => void = () => {}) {
    this.#spec = spec;
    this.#unsettled = spec.connections;
    this.#established = established;
    for (let i = 0; i < spec.connections; i++) this.#open(true);
  }

  #settle(first: boolean): void {
    if (!first) return;
    this.#unsettled -= 1;
    if (this.#unsettled === 0) this.#established();
  }

  #open(first = false): void {
    if (this.#stopped) return;
    const spec = this.#spec;
    const localAddress = spec.addresses[this.#next++ % spec.addresses.length];
    const socket = connect({ port: spec.port, host: "127.0.0.1", localAddress });
    this.#sockets.add(socket);
    let opened = 0;
    let trickle: NodeJS.Timeout | undefined;
    socket.on("error", () => {});
    socket.once("connect", () => {
      opened = performance.now();
      this.stats.opened += 1;
      if (spec.neverRead === true) socket.pause();
      socket.write(spec.opening);
      this.#settle(first);
      if (spec.trickleMs !== undefined) trickle = setInterval(() => socket.write("a"), spec.trickleMs);
    });
    if (spec.neverRead !== true) {
      socket.setEncoding("latin1");
      socket.on("data", (chunk: string) => {
        for (const match of chunk.matchAll(/HTTP\/1\.1 (\d{3}) /g)) {
          const status = match[1] ?? "";
          this.stats.statuses[status] = (this.stats.statuses[status] ?? 0) + 1;
        }
      });
    }
    socket.once("close", () => {
      // Closed before its opening was written: it has settled too.
      if (first && opened === 0) this.#settle(true);
      clearInterval(trickle);
      this.#sockets.delete(socket);
      if (this.#stopped) return;
      this.stats.closedByService += 1;
      if (opened > 0) this.stats.heldMs.push(performance.now() - opened);
      setTimeout(() => this.#open(), spec.reopenMs).unref();
    });
  }

  /** Closes every connection; none is opened again. */
  stop(): void {
    this.#stopped = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }
}

/** An attack running in a process of its own: `stop()` ends it and resolves with what it saw. */
export interface RemoteAttack {
  stop(): Promise<AttackStats>;
}

/**
 * Starts an attack in a child process (bench/lib/attacker.ts) and resolves once it is established:
 * every connection opened, with its opening handed to the socket, or already closed by the service. From then on the
 * child runs at the lowest CPU priority, so that the attackers' own work (reopening thousands of
 * connections, trickling) never delays the measured clients: they share the load generator's core,
 * and get it whenever they want it.
 */
export async function startAttack(spec: AttackSpec): Promise<RemoteAttack> {
  const script = fileURLToPath(new URL("./attacker.ts", import.meta.url));
  // The TypeScript loader this process runs with (tsx's flags) runs the attacker too.
  const child = spawn(process.execPath, [...process.execArgv, script], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  await once(child, "spawn");
  const established = once(child, "message");
  child.send(spec);
  await established;
  return {
    async stop() {
      const answer = once(child, "message") as Promise<[AttackStats]>;
      child.send("stop");
      const [stats] = await answer;
      await once(child, "exit");
      return stats;
    },
  };
}

/** A well-behaved client's requests during a window: latencies and failures. */
export interface ClientRecord {
  readonly latenciesMs: number[];
  /** Answers with another status than 200. */
  refused: number;
  /** Requests with no answer at all: refused or reset connections, timeouts. */
  failed: number;
}

const ANSWER_TIMEOUT_MS = 5000;
const RETRY_MS = 100;

/** One request; resolves with its status, or 0 when the connection failed or timed out. */
function ask(
  url: string,
  options: { readonly body?: string; readonly agent: Agent | false; readonly localAddress: string },
): Promise<number> {
  return new Promise((resolve) => {
    const outgoing = request(
      url,
      {
        method: options.body === undefined ? "GET" : "POST",
        agent: options.agent,
        localAddress: options.localAddress,
        headers: options.body === undefined ? {} : { "content-type": "application/json" },
        timeout: ANSWER_TIMEOUT_MS,
      },
      (response) => {
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", () => resolve(0));
      },
    );
    outgoing.on("timeout", () => outgoing.destroy());
    outgoing.on("error", () => resolve(0));
    outgoing.end(options.body);
  });
}

/** A client on one keep-alive connection sending `body` to `url` one request after another until `until`. */
export async function steadyClient(
  url: string,
  body: string,
  localAddress: string,
  until: number,
): Promise<ClientRecord> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const record: ClientRecord = { latenciesMs: [], refused: 0, failed: 0 };
  while (performance.now() < until) {
    const sent = performance.now();
    const status = await ask(url, { body, agent, localAddress });
    if (status === 200) record.latenciesMs.push(performance.now() - sent);
    else {
      if (status === 0) record.failed += 1;
      else record.refused += 1;
      // A client that was refused tries again shortly, not in a tight loop.
      await sleep(RETRY_MS);
    }
  }
  agent.destroy();
  return record;
}

/** A probe that opens a new connection for each GET of `url` every `everyMs`, as a kubelet probe does. */
export async function prober(
  url: string,
  localAddress: string,
  everyMs: number,
  until: number,
): Promise<ClientRecord & { longestFailureMs: number }> {
  const record = { latenciesMs: [] as number[], refused: 0, failed: 0, longestFailureMs: 0 };
  let failingSince: number | undefined;
  while (performance.now() < until) {
    const sent = performance.now();
    // Any answer counts: the public port answers its probes 404 when an admin port serves them.
    const status = await ask(url, { agent: false, localAddress });
    if (status === 0) {
      record.failed += 1;
      failingSince ??= sent;
      record.longestFailureMs = Math.max(record.longestFailureMs, performance.now() - failingSince);
    } else {
      failingSince = undefined;
      record.latenciesMs.push(performance.now() - sent);
    }
    await sleep(Math.max(0, everyMs - (performance.now() - sent)));
  }
  return record;
}

/** Samples `read` every `everyMs` until `until`; resolves with the largest value seen. */
export async function peak(read: () => number, everyMs: number, until: number): Promise<number> {
  let largest = read();
  while (performance.now() < until) {
    await sleep(everyMs);
    largest = Math.max(largest, read());
  }
  return largest;
}
