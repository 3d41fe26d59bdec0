/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time by function and by package, so a
 * missed target can be traced to the code that pays for it.
 */
import { readFileSync } from "node:fs";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** One row of a self-time table. */
export interface SelfTime {
  readonly name: string;
  readonly ms: number;
  /** Share of the busy (non-idle) time. */
  readonly share: number;
}

/** Self time by function and by package, busy time only. */
export interface ProfileSummary {
  readonly busyMs: number;
  readonly idleMs: number;
  readonly functions: readonly SelfTime[];
  readonly packages: readonly SelfTime[];
}

// Where a frame's code lives: a package, a Node internal area, one of our files, or V8 itself.
function packageOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)";
  const modules = url.lastIndexOf("/node_modules/");
  if (modules !== -1) {
    const rest = url.slice(modules + "/node_modules/".length).split("/");
    return rest[0]?.startsWith("@") === true ? `${rest[0]}/${rest[1] ?? ""}` : (rest[0] ?? url);
  }
  if (url.startsWith("node:")) return url.split("/").slice(0, 2).join("/");
  const ours = /\/(src|bench|test)\/(.*)$/.exec(url);
  return ours === null ? url : `${ours[1]}/${ours[2]}`;
}

function frameName(frame: CallFrame): string {
  const where = packageOf(frame);
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  return frame.url === "" ? name : `${name} ${where}:${frame.lineNumber + 1}`;
}

/** Reads and summarises a .cpuprofile; `top` rows per table. */
export function summarizeProfile(path: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, "utf8")) as CpuProfile; // the .cpuprofile format is V8's
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const functionMs = new Map<string, number>();
  const packageMs = new Map<string, number>();
  let idleMs = 0;
  let busyMs = 0;
  // timeDeltas[i] is the time before sample i: sample i lasts until sample i + 1.
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i] ?? -1);
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (node === undefined) continue;
    if (node.callFrame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const name = frameName(node.callFrame);
    functionMs.set(name, (functionMs.get(name) ?? 0) + ms);
    const pkg = packageOf(node.callFrame);
    packageMs.set(pkg, (packageMs.get(pkg) ?? 0) + ms);
  }
  const rows = (map: Map<string, number>): SelfTime[] =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: busyMs === 0 ? 0 : ms / busyMs }));
  return { busyMs, idleMs, functions: rows(functionMs), packages: rows(packageMs) };
}

/** The summary as two plain-text tables. */
export function formatSummary(title: string, summary: ProfileSummary): string {
  const table = (rows: readonly SelfTime[]): string =>
    rows
      .map(
        (row) =>
          `  ${(row.share * 100).toFixed(1).padStart(5)}%  ${row.ms.toFixed(0).padStart(6)} ms  ${row.name}`,
      )
      .join("\n");
  return [
    `${title}: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`,
    "Self time by package / area:",
    table(summary.packages),
    "Self time by function:",
    table(summary.functions),
  ].join("\n");
}
