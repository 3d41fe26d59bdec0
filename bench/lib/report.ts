/** Reporting: the results as a markdown table, printed and written to bench/results/latest.md. */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { QUICK, RESULTS, ROOT, SETTINGS } from "../settings.js";
import { log } from "./log.js";
import type { Placement } from "./placement.js";
import type { Results } from "./results.js";
import { fixed, mib, whole } from "./stats.js";

function cell(value: number, decimals: number): string {
  return fixed(value, decimals);
}

/** The results as markdown: a header naming the run, the table, the targets, the notes. */
export function report(results: Results, placement: Placement, startedAt: Date, seconds: number): string {
  const commit = safeGit(["rev-parse", "--short", "HEAD"]);
  const dirty =
    safeGit(["status", "--porcelain", "--", "src"]) === "" ? "" : " (src has uncommitted changes)";
  const header = [
    `# Benchmark results`,
    "",
    `${startedAt.toISOString()} · commit ${commit}${dirty} · Node ${process.version} · ${placement.cores} cores · ${placement.note}`,
    `· ${QUICK ? "QUICK smoke run" : "full run"}: ${SETTINGS.repetitions} interleaved repetitions of ${SETTINGS.loadSeconds} s at ${SETTINGS.connections} connections after ${SETTINGS.warmupSeconds} s warm-up; medians · ${fixed(seconds, 0)} s in all`,
    "",
  ];
  const table = [
    "| Scenario | req/s | vs baseline | p50 ms | p99 ms | server CPU µs/req | RSS MiB | errors | non-2xx | bad answers | upstream calls | target | result |",
    "|---|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|---|---|",
    ...results.rows.map(
      (row) =>
        `| ${row.scenario} | ${whole(row.rps)} | ${row.versus} | ${cell(row.p50Ms, 2)} | ${cell(row.p99Ms, 2)} | ` +
        `${cell(row.cpuUs, 0)} | ${mib(row.rssBytes)} | ${row.errors} | ${row.non2xx} | ${row.bad} | ${row.upstream} | ${row.target} | ${row.verdict} |`,
    ),
  ];
  const targetTable = [
    "",
    "| Target | measured | result |",
    "|---|---|---|",
    ...results.targets.map((target) => `| ${target.name} | ${target.measured} | **${target.verdict}** |`),
  ];
  const noteLines = results.notes.length === 0 ? [] : ["", ...results.notes.map((note) => `- ${note}`)];
  return [...header, ...table, ...targetTable, ...noteLines, ""].join("\n");
}

function safeGit(args: readonly string[]): string {
  try {
    return execFileSync("git", [...args], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Prints the report and writes it to bench/results/latest.md. */
export function writeReport(markdown: string): void {
  writeFileSync(join(RESULTS, "latest.md"), markdown);
  process.stdout.write(`\n${markdown}\n`);
  log("written to bench/results/latest.md");
}
