/**
 * Why a shared-store command failed, as a closed set of causes (a metric label, a readiness reason),
 * and a log that says so once per cause and interval instead of once per command.
 */
import type { Logger } from "pino";
import { DeadlineExceeded } from "./bounded-command.js";

/**
 * - timeout: no reply within REDIS_TIMEOUT_MS; unreachable: no connection (down, failing over);
 * - noperm: the ACL user lacks a command (EVAL, EVALSHA, CONFIG ...); no_scripts: the server does
 *   not offer scripting at all (some managed tiers);
 * - oom: maxmemory reached under noeviction; readonly: a replica or demoted primary; loading: the
 *   server is loading its data set; cluster_down: a shard has no master;
 * - evicting_policy: the server's maxmemory-policy can evict the limiter's keys;
 * - refused: any other error reply.
 */
export type FailureCause =
  | "timeout"
  | "unreachable"
  | "noperm"
  | "no_scripts"
  | "oom"
  | "readonly"
  | "loading"
  | "cluster_down"
  | "evicting_policy"
  | "refused";

const REPLY_CAUSES: Readonly<Record<string, FailureCause>> = {
  NOPERM: "noperm",
  OOM: "oom",
  READONLY: "readonly",
  LOADING: "loading",
  CLUSTERDOWN: "cluster_down",
  MASTERDOWN: "unreachable",
  TRYAGAIN: "cluster_down",
};

/** True for an error reply from the server (a refusal), as opposed to no reply at all. */
export function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

/** The cause of a failed command. */
export function causeOf(error: unknown): FailureCause {
  if (error instanceof DeadlineExceeded) return "timeout";
  if (!(error instanceof Error)) return "unreachable";
  if (error.name !== "ReplyError") return error.message === "Command timed out" ? "timeout" : "unreachable";
  const code = error.message.split(" ", 1)[0] ?? "";
  const known = REPLY_CAUSES[code];
  if (known !== undefined) return known;
  // A managed tier without scripting answers EVAL/EVALSHA as an unknown command.
  if (/^ERR unknown command .(eval|evalsha)/i.test(error.message)) return "no_scripts";
  return "refused";
}

interface Suppressed {
  readonly message: string;
  readonly fields: Record<string, unknown>;
  count: number;
}

/**
 * One warning per cause (e.g. "limiter:oom") when it first happens, then at most one line per
 * interval saying how many more times it happened; nothing while it does not. A full or frozen Redis
 * fails every command: without this it writes thousands of identical lines a second.
 */
export class FailureLog {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #seen = new Map<string, Suppressed>();
  #timer: NodeJS.Timeout | undefined;

  constructor(logger: Logger, intervalMs: number) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
  }

  /** Logs `message` for `key` now, or counts it when it was logged within the interval. */
  report(key: string, fields: Record<string, unknown>, message: string): void {
    const seen = this.#seen.get(key);
    if (seen !== undefined) {
      seen.count += 1;
      return;
    }
    this.#seen.set(key, { message, fields, count: 0 });
    this.#logger.warn(fields, message);
    this.#timer ??= setInterval(() => this.#flush(), this.#intervalMs).unref();
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    for (const [key, seen] of this.#seen) {
      if (seen.count === 0) {
        // Quiet for a whole interval: the next occurrence is news again.
        this.#seen.delete(key);
        continue;
      }
      this.#logger.warn(
        { ...seen.fields, repeated: seen.count, intervalSeconds: this.#intervalMs / 1000 },
        `${seen.message} (${seen.count} more in the last ${this.#intervalMs / 1000} s)`,
      );
      seen.count = 0;
    }
    if (this.#seen.size === 0) this.close();
  }
}
