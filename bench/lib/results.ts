/** What the scenario groups measured: table rows, targets with their verdicts, and notes. */

/** A target's judgement; empty for rows that carry none. */
export type Verdict = "PASS" | "MISS" | "";

/** One line of the results table. */
export interface Row {
  readonly scenario: string;
  readonly rps: number;
  readonly versus: string;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly cpuUs: number;
  readonly rssBytes: number;
  readonly errors: number;
  readonly non2xx: number;
  /** Answers with the wrong status or body. */
  readonly bad: number;
  readonly upstream: string;
  readonly target: string;
  readonly verdict: Verdict;
}

/** One target and how the run did against it. */
export interface Target {
  readonly name: string;
  readonly measured: string;
  readonly verdict: Verdict;
}

/** Everything a run collects, in the order the groups add it. */
export class Results {
  readonly rows: Row[] = [];
  readonly targets: Target[] = [];
  readonly notes: string[] = [];
}
