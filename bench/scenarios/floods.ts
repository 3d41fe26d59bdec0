/**
 * (i) floods: the public port under three attacks, each on a fresh server, measured from a
 * well-behaved neighbour as ratios to the idle baseline the same server gave just before:
 *
 * - slow bodies from one address, 1.1x the connection cap, reopened as soon as they are closed;
 * - slow 64 KiB uploads from 30 addresses, one byte short, then a byte every 5 s (body memory);
 * - clients pipelining thousands of requests and never reading an answer.
 *
 * During each: a neighbour's cache-hit requests on one keep-alive connection (p50, p99), a probe
 * opening a new connection to the public port every 250 ms (refused: how often and for how long),
 * a liveness probe on the admin port, and the server's RSS. With BENCH_FLOODS_BEFORE=<git-ref> the
 * same attacks also run against that commit's build, in the same run, attack by attack.
 */
import { join } from "node:path";
import type { FakeAspose } from "../../dev/fake-aspose.js";
import { freePort } from "../../dev/ports.js";
import { buildOther, type OtherBuild } from "../lib/build.js";
import { ChildServer } from "../lib/child-server.js";
import {
  type AttackSpec,
  type AttackStats,
  type ClientRecord,
  peak,
  prober,
  startAttack,
  steadyClient,
} from "../lib/flood-clients.js";
import { post } from "../lib/http-client.js";
import { log } from "../lib/log.js";
import { scrape, value } from "../lib/metrics.js";
import { tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed, median, mib, percentile, whole } from "../lib/stats.js";
import { HIT_ID, ROOT, SECRET, SETTINGS } from "../settings.js";
import { serviceSpec } from "./service.js";

const ATTACKER = "127.0.0.2";
const NEIGHBOUR = "127.0.0.3";
const PROBE = "127.0.0.4";
/** Addresses of the upload flood: enough that the per-address limit is not what stops it. */
const UPLOADERS = Array.from({ length: 30 }, (_, i) => `127.0.1.${i + 1}`);

const SLOW_HEAD = (length: number): string =>
  `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

const TOKEN_BODY = tokenRequestBody(HIT_ID, SECRET);
const PIPELINED = `${SLOW_HEAD(Buffer.byteLength(TOKEN_BODY))}${TOKEN_BODY}`;

/** One attack: its server's settings and how it starts against a port. */
interface Flood {
  readonly id: string;
  readonly title: string;
  readonly env: Readonly<Record<string, string>>;
  attack(port: number): AttackSpec;
}

function floods(): Flood[] {
  const { cap, uploads, pipeliners, pipelined } = SETTINGS.floods;
  return [
    {
      id: "slow-cap",
      title: `${whole(cap * 1.1)} slow bodies from one address, cap ${whole(cap)}`,
      env: { MAX_CONNECTIONS: String(cap) },
      attack: (port) => ({
        port,
        connections: Math.round(cap * 1.1),
        addresses: [ATTACKER],
        opening: `${SLOW_HEAD(65_536)}${"a".repeat(64)}`,
        trickleMs: 5000,
        reopenMs: 100,
      }),
    },
    {
      id: "uploads",
      title: `${whole(uploads)} slow 64 KiB uploads from ${UPLOADERS.length} addresses`,
      env: { MAX_CONNECTIONS: "10000" },
      attack: (port) => ({
        port,
        connections: uploads,
        addresses: UPLOADERS,
        opening: `${SLOW_HEAD(65_536)}${"a".repeat(65_535)}`,
        trickleMs: 5000,
        reopenMs: 100,
      }),
    },
    {
      id: "pipelining",
      title: `${pipeliners} clients pipelining ${whole(pipelined)} requests each, never reading`,
      env: {},
      attack: (port) => ({
        port,
        connections: pipeliners,
        addresses: [ATTACKER],
        opening: PIPELINED.repeat(pipelined),
        neverRead: true,
        // A byte a second: the attacker notices (a failed write) when the service cuts it, and
        // reconnects, as one that polled its connections would.
        trickleMs: 1000,
        reopenMs: 100,
      }),
    },
  ];
}

/** What a window measured. */
interface Window {
  readonly client: ClientRecord;
  readonly publicProbe: ClientRecord & { longestFailureMs: number };
  readonly liveness: ClientRecord & { longestFailureMs: number };
  readonly rss: number;
}

async function measure(server: ChildServer, adminOrigin: string, seconds: number): Promise<Window> {
  const until = performance.now() + seconds * 1000;
  const [client, publicProbe, liveness, rss] = await Promise.all([
    steadyClient(`${server.origin}/graphql`, TOKEN_BODY, NEIGHBOUR, until),
    prober(`${server.origin}/healthz`, PROBE, 250, until),
    prober(`${adminOrigin}/healthz`, "127.0.0.1", 250, until),
    peak(() => server.rssBytes(), 100, until),
  ]);
  return { client, publicProbe, liveness, rss };
}

/** A build under test: this checkout's, or another commit's. */
interface Build {
  readonly label: string;
  readonly root: string;
}

/** Runs every flood against this build (and the one BENCH_FLOODS_BEFORE names, if any). */
export async function floodsGroup(placement: Placement, fake: FakeAspose, results: Results): Promise<void> {
  const beforeRef = process.env.BENCH_FLOODS_BEFORE;
  let other: OtherBuild | undefined;
  const builds: Build[] = [];
  if (beforeRef !== undefined && beforeRef !== "") {
    other = buildOther(beforeRef);
    log(`floods: built ${beforeRef} in ${other.root}`);
    builds.push({ label: beforeRef, root: other.root });
  }
  builds.push({ label: "this build", root: ROOT });
  try {
    for (const flood of floods())
      for (const build of builds) await runFlood(placement, fake, results, flood, build);
  } finally {
    other?.remove();
  }
  results.notes.push(
    `(i) floods: each attack on a fresh server (ADMIN_PORT set, other limits at their defaults), ${SETTINGS.floods.idleSeconds} s idle then ${SETTINGS.floods.attackSeconds} s under attack; the attackers reopen every connection the service closes 100 ms later. Ratios are to the same server's idle window. "public port refused" counts new connections (one every 250 ms) that got no answer at all.`,
  );
}

async function runFlood(
  placement: Placement,
  fake: FakeAspose,
  results: Results,
  flood: Flood,
  build: Build,
): Promise<void> {
  const adminPort = await freePort();
  const spec = serviceSpec(`flood-${flood.id}`, placement.serverCore, fake.url, {
    ...flood.env,
    ADMIN_PORT: String(adminPort),
    ADMIN_HOST: "127.0.0.1",
  });
  const server = await ChildServer.start({
    ...spec,
    script: join(build.root, "dist/src/main.js"),
    readyPort: adminPort,
  });
  const adminOrigin = `http://127.0.0.1:${adminPort}`;
  try {
    // The neighbour's credential is cached before anything is measured.
    await post(`${server.origin}/graphql`, TOKEN_BODY, false);
    const idle = await measure(server, adminOrigin, SETTINGS.floods.idleSeconds);
    const answeredBefore = value(await scrape(adminOrigin), 'graphql_requests_total{outcome="ok"}');
    const attack = await startAttack(flood.attack(Number(new URL(server.origin).port)));
    const under = await measure(server, adminOrigin, SETTINGS.floods.attackSeconds).catch(
      async (error: unknown) => {
        await attack.stop();
        throw error;
      },
    );
    const attackStats = await attack.stop();
    const metrics = await scrape(adminOrigin);
    const answered = value(metrics, 'graphql_requests_total{outcome="ok"}') - answeredBefore;
    report(results, flood, build, idle, under, attackStats, answered, metrics);
  } finally {
    await server.stop();
  }
}

function report(
  results: Results,
  flood: Flood,
  build: Build,
  idle: Window,
  under: Window,
  attack: AttackStats,
  answered: number,
  metrics: ReadonlyMap<string, number>,
): void {
  const p = (window: Window, rank: number) => percentile(window.client.latenciesMs, rank);
  const ratio = (a: number, b: number) => `×${fixed(a / b, a / b >= 10 ? 0 : 1)}`;
  const latency =
    under.client.latenciesMs.length === 0
      ? `no answer in ${SETTINGS.floods.attackSeconds} s`
      : `p50 ${ratio(p(under, 50), p(idle, 50))}, p99 ${ratio(p(under, 99), p(idle, 99))}`;
  const versus = `${latency}, RSS ${ratio(under.rss, idle.rss)} idle`;
  const row = (name: string, window: Window, against: string, seconds: number) => ({
    scenario: `(i) ${name} · ${build.label}`,
    rps: window.client.latenciesMs.length / seconds,
    versus: against,
    p50Ms: p(window, 50),
    p99Ms: p(window, 99),
    cpuUs: Number.NaN,
    rssBytes: window.rss,
    errors: window.client.failed,
    non2xx: window.client.refused,
    bad: 0,
    upstream: "–",
    target: "informative",
    verdict: "" as const,
  });
  const { idleSeconds, attackSeconds } = SETTINGS.floods;
  results.rows.push(row(`idle before: ${flood.title}`, idle, "idle baseline", idleSeconds));
  results.rows.push(row(flood.title, under, versus, attackSeconds));
  const probed = under.publicProbe.failed + under.publicProbe.latenciesMs.length;
  const statuses = Object.entries(attack.statuses)
    .map(([status, count]) => `${whole(count)}× ${status}`)
    .join(", ");
  const shed = ["address_limit", "slow_body", "body_budget", "send_timeout", "connection_cap"]
    .map((reason) => [reason, value(metrics, `http_connections_shed_total{reason="${reason}"}`)] as const)
    .filter(([, count]) => count > 0)
    .map(([reason, count]) => `${reason} ${whole(count)}`)
    .join(", ");
  const note =
    `(i) ${flood.title} · ${build.label}: neighbour p50 ${fixed(p(idle, 50), 2)} → ${fixed(p(under, 50), 2)} ms, ` +
    `p99 ${fixed(p(idle, 99), 2)} → ${fixed(p(under, 99), 2)} ms (${versus}); RSS ${mib(idle.rss)} → ${mib(under.rss)} MiB; ` +
    `public port refused ${under.publicProbe.failed} of ${probed} new connections (longest ${fixed(under.publicProbe.longestFailureMs / 1000, 1)} s); ` +
    `admin /healthz failed ${under.liveness.failed} of ${under.liveness.failed + under.liveness.latenciesMs.length}, p99 ${fixed(percentile(under.liveness.latenciesMs, 99), 1)} ms; ` +
    `attack: ${whole(attack.opened)} connections opened, ${whole(attack.closedByService)} closed by the service (held median ${fixed(median(attack.heldMs) / 1000, 1)} s)` +
    `${statuses === "" ? "" : `, answered ${statuses}`}; GraphQL answers during the attack ${whole(answered)}` +
    `${shed === "" ? "" : `; shed: ${shed}`}.`;
  results.notes.push(note);
  log(note);
}
