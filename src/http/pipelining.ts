/**
 * Turn-taking for pipelined requests. node:http parses every request in what it reads (up to 64 KiB at
 * a time: thousands of small requests) and emits them all at once; each response waits behind the one
 * before, and reading stops only once answers back up past the socket's high-water mark. So one
 * connection's read could start thousands of requests in one turn of the event loop, every other
 * connection waiting behind them, and a client that never read its answers kept them queued.
 *
 * Here a connection has at most `depth` requests being worked on; the rest wait, and the connection is
 * not read meanwhile, until earlier answers have been handed to the system for the client (their
 * response has closed). Waiting requests are started from `setImmediate`, a few per turn of the event
 * loop, one connection after another: between two turns every connection's I/O is served, so a
 * request on a quiet connection waits for at most one turn's batch, not for a pipeliner's backlog.
 * Node's back-pressure still applies beneath this: when a client does not read, its answers stay
 * unsent, their responses do not close, and nothing more of that connection is started (see
 * send-timeout.ts for how such a connection ends).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Starts the work for one request. */
export type Serve = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Waiting requests started per turn of the event loop, over all connections. A cache hit costs about
 * 0.3 ms of CPU, so a turn's batch keeps other connections' requests waiting a few milliseconds at most.
 */
const STARTS_PER_TURN = 8;

interface Waiting {
  readonly request: IncomingMessage;
  readonly response: ServerResponse;
}

/** One connection's requests: how many are being worked on, and which wait. */
interface Line {
  readonly socket: Socket;
  active: number;
  /** Waiting requests from index `next` on (started ones are cleared, not shifted out). */
  readonly waiting: Array<Waiting | undefined>;
  next: number;
  /** In the queue of connections with a request ready to start. */
  ready: boolean;
  /** Reading is stopped here until the connection's waiting requests have started. */
  holding: boolean;
  /** The listeners that keep the connection held are installed (the first time it is held). */
  watched: boolean;
}

/** Admits each request when its connection's turn comes. */
export class Pipelining {
  readonly #depth: number;
  readonly #serve: Serve;
  readonly #lines = new WeakMap<Socket, Line>();
  /** Connections with a waiting request and room to start it, in turn order, from `#head` on. */
  #ready: Line[] = [];
  #head = 0;
  #turnQueued = false;
  #waiting = 0;

  constructor(depth: number, serve: Serve) {
    this.#depth = depth;
    this.#serve = serve;
  }

  /** Requests parsed and waiting for their connection's turn, over every connection. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Serves the request now if its connection has room, otherwise when its turn comes. */
  admit(request: IncomingMessage, response: ServerResponse): void {
    const { socket } = request;
    let line = this.#lines.get(socket);
    if (line === undefined) {
      line = { socket, active: 0, waiting: [], next: 0, ready: false, holding: false, watched: false };
      this.#lines.set(socket, line);
    }
    if (line.active < this.#depth && line.next === line.waiting.length) {
      this.#start(line, request, response);
      return;
    }
    line.waiting.push({ request, response });
    this.#waiting += 1;
    if (!line.holding) this.#hold(line);
  }

  #start(line: Line, request: IncomingMessage, response: ServerResponse): void {
    line.active += 1;
    response.once("close", () => {
      line.active -= 1;
      if (line.next < line.waiting.length) this.#makeReady(line);
    });
    this.#serve(request, response);
  }

  /** Puts the connection at the back of the turn order. */
  #makeReady(line: Line): void {
    if (line.ready) return;
    line.ready = true;
    this.#ready.push(line);
    this.#queueTurn();
  }

  #queueTurn(): void {
    if (this.#turnQueued) return;
    this.#turnQueued = true;
    setImmediate(() => this.#turn());
  }

  /** Starts up to a turn's batch of waiting requests, one per connection in turn order. */
  #turn(): void {
    this.#turnQueued = false;
    let started = 0;
    while (started < STARTS_PER_TURN) {
      const line = this.#ready[this.#head];
      if (line === undefined) break;
      this.#head += 1;
      line.ready = false;
      const next = line.waiting[line.next];
      line.waiting[line.next] = undefined;
      line.next += 1;
      this.#waiting -= 1;
      // Its connection may be gone: node:http has then destroyed the responses still queued.
      if (next !== undefined && !next.response.destroyed) {
        this.#start(line, next.request, next.response);
        started += 1;
      }
      if (line.next === line.waiting.length) this.#release(line);
      else if (line.active < this.#depth) this.#makeReady(line);
    }
    if (this.#head === this.#ready.length) {
      this.#ready = [];
      this.#head = 0;
      return;
    }
    // Connections still in line keep their place; the served front is dropped now and then.
    if (this.#head > 1024 && this.#head * 2 > this.#ready.length) {
      this.#ready = this.#ready.slice(this.#head);
      this.#head = 0;
    }
    this.#queueTurn();
  }

  /** Every waiting request of the connection has started: read it again. */
  #release(line: Line): void {
    line.waiting.length = 0;
    line.next = 0;
    if (!line.holding) return;
    line.holding = false;
    line.socket.resume();
  }

  /**
   * Stops reading the connection. node:http resumes a socket itself when its own back-pressure eases
   * and when a request body is read; each resume emits 'resume', and reading is stopped again there,
   * before the event loop can read anything, while requests still wait.
   */
  #hold(line: Line): void {
    const { socket } = line;
    line.holding = true;
    if (!line.watched) {
      line.watched = true;
      socket.on("resume", () => {
        if (line.holding) socket.pause();
      });
      socket.once("close", () => {
        this.#waiting -= line.waiting.length - line.next;
        line.waiting.length = 0;
        line.next = 0;
        line.holding = false;
      });
    }
    socket.pause();
  }
}
