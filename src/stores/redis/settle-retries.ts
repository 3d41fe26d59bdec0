/**
 * Reservation outcomes Redis did not take (a timeout, a failover), offered again until they land or
 * the reservation would have lapsed anyway. A reservation Redis holds but never hears the end of keeps
 * its place in the shared guess budget for a whole upstream call: a few lost across a failover would
 * refuse every new credential for that long.
 */

// How often the outcomes still owed are offered again, and how many are kept at most.
const RETRY_INTERVAL_MS = 1000;
const MAX_OWED = 1000;

/** One owed outcome: what to send again, and until when (performance.now() ms) it is worth sending. */
interface Owed<T> {
  readonly settle: T;
  readonly untilMs: number;
}

export class SettleRetries<T> {
  /** By reservation id, oldest first. */
  readonly #owed = new Map<string, Owed<T>>();
  /** Sends one outcome again; true when Redis took it or refused it for good (no point retrying). */
  readonly #send: (id: string, settle: T) => Promise<boolean>;
  readonly #lifetimeMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(send: (id: string, settle: T) => Promise<boolean>, lifetimeMs: number) {
    this.#send = send;
    this.#lifetimeMs = lifetimeMs;
  }

  /** Owes `settle` for reservation `id`: it is offered again shortly. */
  add(id: string, settle: T): void {
    if (this.#closed) return;
    if (this.#owed.size >= MAX_OWED) this.#owed.delete(this.#owed.keys().next().value ?? "");
    this.#owed.set(id, { settle, untilMs: performance.now() + this.#lifetimeMs });
    this.#schedule();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#owed.clear();
  }

  #schedule(): void {
    this.#timer ??= setTimeout(() => void this.#retry(), RETRY_INTERVAL_MS).unref();
  }

  async #retry(): Promise<void> {
    for (const [id, { settle, untilMs }] of this.#owed) {
      if (this.#closed) return;
      if (performance.now() < untilMs && !(await this.#send(id, settle))) break;
      this.#owed.delete(id);
    }
    this.#timer = undefined;
    if (this.#owed.size > 0 && !this.#closed) this.#schedule();
  }
}
