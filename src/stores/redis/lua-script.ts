import { createHash } from "node:crypto";
import type { Send } from "./bounded-command.js";

/**
 * A Lua script run atomically on Redis: by its SHA1 (EVALSHA), sending the source only when the
 * server does not have it cached yet (after a restart or SCRIPT FLUSH, or on a cluster node or a
 * promoted replica that has never run it). On a cluster every key of one call must share a hash tag
 * (one slot), or Redis refuses it with CROSSSLOT: callers name their keys so.
 */
export class LuaScript {
  readonly #source: string;
  readonly #sha: string;
  readonly #keyCount: number;

  constructor(source: string, keyCount: number) {
    this.#source = source;
    this.#sha = createHash("sha1").update(source).digest("hex");
    this.#keyCount = keyCount;
  }

  /** Runs the script with exactly `keyCount` keys, then its arguments. */
  async run(send: Send, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (keys.length !== this.#keyCount) throw new RangeError(`expected ${this.#keyCount} keys`);
    try {
      return await send("evalsha", [this.#sha, this.#keyCount, ...keys, ...args]);
    } catch (error) {
      if (!(error instanceof Error && error.message.startsWith("NOSCRIPT"))) throw error;
      return send("eval", [this.#source, this.#keyCount, ...keys, ...args]);
    }
  }
}
