/** (g) memory: a full cache, then a flood of distinct credentials past its bound. */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { BulkUpstream, bulkSecret } from "../lib/bulk-upstream.js";
import { ChildServer } from "../lib/child-server.js";
import { indexedBatch, post } from "../lib/http-client.js";
import { log } from "../lib/log.js";
import { scrape, value } from "../lib/metrics.js";
import { multiTokenRequestBody, tokenRequestBody } from "../lib/operations.js";
import type { Placement } from "../lib/placement.js";
import type { Results } from "../lib/results.js";
import { fixed, mib, whole } from "../lib/stats.js";
import { TARGETS, verdict } from "../lib/verdict.js";
import { FILL_ALIASES, noErrors, ROOT, SETTINGS } from "../settings.js";
import { serviceSpec } from "./service.js";

/** Fills the cache to its bound in quarters, floods past it, and checks memory and eviction. */
export async function memoryGroup(placement: Placement, results: Results): Promise<void> {
  const upstream = await BulkUpstream.start();
  const bound = SETTINGS.cacheBound;
  const server = await ChildServer.start(
    serviceSpec(
      "memory",
      placement.serverCore,
      upstream.url,
      {
        TOKEN_CACHE_MAX_ENTRIES: String(bound),
        // Every fill request succeeds, but attempts in flight count against the per-address limit
        // (LOCKOUT_THRESHOLD x 4): with the default of 5, a 21st concurrent miss would be refused.
        LOCKOUT_THRESHOLD: "1000",
        // Several distinct credentials per operation make the fill of 100,000 take minutes, not many.
        MAX_TOKEN_FIELDS_PER_OPERATION: String(FILL_ALIASES),
      },
      ["--expose-gc", `--import=${pathToFileURL(join(ROOT, "dist/bench/servers/gc-on-signal.js")).href}`],
    ),
  );
  const credential = (index: number) => {
    const clientId = `bench-mem-${index.toString().padStart(7, "0")}`;
    return { clientId, clientSecret: bulkSecret(clientId) };
  };
  const fromCache = async (index: number): Promise<boolean> => {
    const { clientId, clientSecret } = credential(index);
    const answer = await post(`${server.origin}/graphql`, tokenRequestBody(clientId, clientSecret), false);
    return answer.body.includes('"fromCache":true');
  };
  // RSS as the fill left it, then the live heap after a full GC (RSS is read first: V8 gives freed
  // pages back lazily, so RSS after the GC would mostly say when it did).
  const checkpoints: Array<{ inserted: number; rss: number; heap: number }> = [];
  const checkpoint = async (inserted: number): Promise<void> => {
    const rss = server.rssBytes();
    await server.collectGarbage();
    const heap = value(await scrape(server.origin), "nodejs_heap_size_used_bytes");
    checkpoints.push({ inserted, rss, heap });
    log(`memory: ${whole(inserted)} credentials → RSS ${mib(rss)} MiB, live heap ${mib(heap)} MiB`);
  };
  let errors = 0;
  let bad = 0;
  let seconds = 0;
  let cpu = 0;
  // Credentials [from, to), FILL_ALIASES per request.
  const fill = async (from: number, to: number): Promise<void> => {
    const cpuBefore = server.cpuSeconds();
    const batch = await indexedBatch({
      url: `${server.origin}/graphql`,
      from: from / FILL_ALIASES,
      to: to / FILL_ALIASES,
      concurrency: SETTINGS.fillConcurrency,
      bodyFor: (request) =>
        multiTokenRequestBody(
          Array.from({ length: FILL_ALIASES }, (_, i) => credential(request * FILL_ALIASES + i)),
        ),
      verify: (answer) =>
        noErrors(answer.body) && answer.body.split('"fromCache":false').length - 1 === FILL_ALIASES,
    });
    cpu += server.cpuSeconds() - cpuBefore;
    seconds += batch.seconds;
    errors += batch.errors;
    bad += batch.wrongStatus + batch.badBodies;
  };
  try {
    await checkpoint(0);
    const quarter = bound / 4;
    for (let k = 1; k <= 4; k++) {
      await fill((k - 1) * quarter, k * quarter);
      await checkpoint(k * quarter);
    }
    const half = SETTINGS.flood / 2;
    await fill(bound, bound + half);
    await checkpoint(bound + half);
    await fill(bound + half, bound + SETTINGS.flood);
    await checkpoint(bound + SETTINGS.flood);
    const inserted = bound + SETTINGS.flood;
    const oldestEvicted = !(await fromCache(0));
    const newestCached = await fromCache(inserted - 1);
    const samples = await scrape(server.origin);
    const gaugeSeries = [...samples.keys()].find((series) => /token_cache_(entries|size)/.test(series));
    const entries =
      gaugeSeries === undefined ? Math.min(inserted, bound) : (samples.get(gaugeSeries) ?? Number.NaN);
    const entriesSource =
      gaugeSeries === undefined
        ? "inferred: min(inserted, bound); /metrics has no cache-size gauge"
        : gaugeSeries;

    const at = (count: number) => checkpoints.find((c) => c.inserted === count);
    const start = at(0);
    const first = at(quarter);
    const full = at(bound);
    const halfway = at(bound + SETTINGS.flood / 2);
    const flooded = at(inserted);
    // Bounded: past the bound the live heap stays at its full-cache size (each new token evicts an
    // old one), and RSS growth flattens out: over the second half of the flood it must be under a
    // quarter of the growth per credential while filling. RSS itself is mostly V8's heap reservation,
    // which churn grows and the OS gets back lazily, so it is the live heap that shows the bound.
    const heapPerEntry = full && start ? (full.heap - start.heap) / bound : Number.NaN;
    const heapGrowth = full && flooded ? flooded.heap / full.heap : Number.NaN;
    const fillSlope = first && full ? (full.rss - first.rss) / (bound - quarter) : Number.NaN;
    const lateFloodSlope =
      halfway && flooded ? (flooded.rss - halfway.rss) / (SETTINGS.flood / 2) : Number.NaN;
    const bounded =
      heapGrowth <= TARGETS.floodHeapGrowth && lateFloodSlope <= TARGETS.floodRssSlopeShare * fillSlope;
    const ok = bounded && oldestEvicted && newestCached && entries <= bound && errors === 0 && bad === 0;
    results.rows.push({
      scenario: `(g) fill: ${whole(bound)} distinct credentials cached`,
      rps: inserted / seconds,
      versus: `live heap +${whole(heapPerEntry)} B per cached token`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      cpuUs: (cpu * 1e6) / inserted,
      rssBytes: full?.rss ?? Number.NaN,
      errors,
      non2xx: 0,
      bad,
      upstream: whole(upstream.calls),
      target: "",
      verdict: "",
    });
    results.rows.push({
      scenario: `(g) flood: +${whole(SETTINGS.flood)} distinct past the bound`,
      rps: Number.NaN,
      versus: `entries ${whole(entries)} / bound ${whole(bound)}`,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      cpuUs: Number.NaN,
      rssBytes: flooded?.rss ?? Number.NaN,
      errors: 0,
      non2xx: 0,
      bad: 0,
      upstream: "",
      target: "RSS bounded by cache size",
      verdict: verdict(ok),
    });
    results.targets.push({
      name: `memory bounded by TOKEN_CACHE_MAX_ENTRIES=${whole(bound)}`,
      measured:
        `live heap ${mib(full?.heap ?? Number.NaN)} MiB full → ${mib(flooded?.heap ?? Number.NaN)} MiB after +${whole(SETTINGS.flood)} ` +
        `(${fixed(heapGrowth, 2)}×); RSS ${mib(full?.rss ?? Number.NaN)} → ${mib(flooded?.rss ?? Number.NaN)} MiB, ` +
        `RSS growth ${whole(lateFloodSlope)} B per credential late in the flood vs ${whole(fillSlope)} B filling; ` +
        `entries ${whole(entries)} (${entriesSource}); oldest evicted: ${oldestEvicted ? "yes" : "NO"}, newest cached: ${newestCached ? "yes" : "NO"}`,
      verdict: verdict(ok),
    });
    results.notes.push(
      `(g) RSS / live heap (after a forced full GC) at each checkpoint: ${checkpoints
        .map((c) => `${whole(c.inserted)}: ${mib(c.rss)} / ${mib(c.heap)} MiB`)
        .join(
          "; ",
        )}. Filled through bench/lib/bulk-upstream.ts (no RSA signing), ${FILL_ALIASES} credentials per ` +
        `operation on ${SETTINGS.fillConcurrency} connections; req/s and CPU/req of that row are per token fetched (the miss path).`,
    );
  } finally {
    await server.stop();
    await upstream.close();
  }
}
