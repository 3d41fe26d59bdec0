/**
 * Preloaded into the miss scenario's server by `BENCH_PROFILE=miss-phases` (`node --import`): marks each
 * request's way through the process from Node's and got's diagnostics channels, with the wall clock
 * and the process's CPU time at each mark, and on exit writes every request's marks to
 * BENCH_PHASES_OUT. Where wall time runs ahead of CPU time the request waited (a timer, a macrotask, the
 * upstream); where they match it was computing. Nothing in the service changes; the marks cost about
 * a microsecond each (a getrusage call), so read the phases, not the total, from such a run.
 */
import { subscribe } from "node:diagnostics_channel";
import { writeFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";

/** One mark: its name, performance.now() in ms, process CPU (user + system) in µs. */
export type Mark = readonly [name: string, wallMs: number, cpuUs: number];

const requests: Mark[][] = [];
let current: Mark[] | undefined;
let previousAnswer: Mark | undefined;

function mark(name: string): void {
  if (current === undefined) return;
  const cpu = process.cpuUsage();
  current.push([name, performance.now(), cpu.user + cpu.system]);
}

// One request at a time (the miss scenario's sequential probe): a mark belongs to the request open now.
// Only POSTs: the readiness probe's GETs are not the requests measured.
subscribe("http.server.request.start", (message) => {
  const { request } = message as { request: IncomingMessage };
  if (request.method !== "POST") return;
  // The previous answer's mark opens this request's list: the CPU between the two is the work a request
  // leaves behind after its answer (cleanup, garbage), which the next one waits for.
  current =
    previousAnswer === undefined ? [] : [["previous answer written", previousAnswer[1], previousAnswer[2]]];
  mark("request in");
});
subscribe("got:request:create", () => mark("got request created"));
subscribe("http.client.request.start", () => mark("upstream request made"));
subscribe("http.client.response.finish", () => mark("upstream answer read"));
subscribe("got:response:end", () => mark("got done with the answer"));
subscribe("http.server.response.finish", () => {
  mark("answer written");
  if (current !== undefined) {
    requests.push(current);
    previousAnswer = current[current.length - 1];
  }
  current = undefined;
});

process.on("exit", () => {
  const out = process.env.BENCH_PHASES_OUT;
  if (out !== undefined) writeFileSync(out, JSON.stringify(requests));
});
