/**
 * Turn-taking for pipelined requests. node:http parses everything it reads (up to 64 KiB at a time,
 * and libuv reads a socket up to 32 times in one turn of the event loop) and emits every request in
 * it at once; a request answered from memory (a cached token) is finished within the same turn, so the
 * next one is parsed and served before the event loop looks at any other connection. One connection
 * pipelining thousands of requests thus held the event loop for seconds: probes and every other
 * client waited behind it. Node's own back-pressure (reading stops once answers back up past the
 * socket's high-water mark) starts only once the client stops reading, after the system's socket
 * buffers have taken megabytes of answers.
 *
 * Here a connection starts at most `depth` requests per turn of the event loop, and has at most `depth`
 * being worked on; the rest wait, and the connection is not read meanwhile. Waiting requests are
 * started from `setImmediate`, a small batch per turn over all connections, one connection after
 * another, so between two batches every other connection's I/O is served: a request on a quiet
 * connection waits for at most one batch, not for a pipeliner's backlog. A connection whose client
 * does not read keeps its answers unsent, their responses do not close, and nothing more of it is
 * started (send-timeout.ts ends such a connection).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

/** Starts the work for one request. */
export type Serve = (request: IncomingMessage, response: ServerResponse) => void;

/**
 * Waiting requests started per turn of the event loop, over all connections. A cache hit costs about
 * 0.3 ms of CPU, so a batch keeps other connections' requests waiting a few milliseconds at most.
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
  /** The turn `started` counts in. */
  turn: number;
  /** Requests started in that turn. */
  started: number;
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
  #batchQueued = false;
  #waiting = 0;
  /** Counts turns of the event loop while requests arrive (advanced from setImmediate). */
  #turn = 0;
  #turnEnding = false;

  constructor(depth: number, serve: Serve) {
    this.#depth = depth;
    this.#serve = serve;
  }

  /** Requests parsed and waiting for their connection's turn, over every connection. */
  get waiting(): number {
    return this.#waiting;
  }

  /** Serves the request now if its connection has room in this turn, otherwise when its turn comes. */
  admit(request: IncomingMessage, response: ServerResponse): void {
    const { socket } = request;
    let line = this.#lines.get(socket);
    if (line === undefined) {
      line = {
        socket,
        active: 0,
        turn: -1,
        started: 0,
        waiting: [],
        next: 0,
        ready: false,
        holding: false,
        watched: false,
      };
      this.#lines.set(socket, line);
    }
    if (this.#hasRoom(line) && line.next === line.waiting.length) {
      this.#start(line, request, response);
      return;
    }
    line.waiting.push({ request, response });
    this.#waiting += 1;
    if (!line.holding) this.#hold(line);
    if (line.active < this.#depth) this.#makeReady(line);
  }

  /** Whether the connection may start another request in this turn. */
  #hasRoom(line: Line): boolean {
    if (line.turn !== this.#turn) {
      line.turn = this.#turn;
      line.started = 0;
    }
    return line.active < this.#depth && line.started < this.#depth;
  }

  #start(line: Line, request: IncomingMessage, response: ServerResponse): void {
    line.active += 1;
    line.started += 1;
    if (!this.#turnEnding) {
      this.#turnEnding = true;
      setImmediate(() => {
        this.#turn += 1;
        this.#turnEnding = false;
      });
    }
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
    this.#queueBatch();
  }

  #queueBatch(): void {
    if (this.#batchQueued) return;
    this.#batchQueued = true;
    setImmediate(() => this.#batch());
  }

  /**
   * Starts up to a batch of waiting requests, one per connection in turn order. Connections that get
   * room back during the batch wait for the next one.
   */
  #batch(): void {
    this.#batchQueued = false;
    const end = this.#ready.length;
    let started = 0;
    while (started < STARTS_PER_TURN && this.#head < end) {
      const line = this.#ready[this.#head];
      this.#head += 1;
      if (line === undefined) continue;
      line.ready = false;
      if (!this.#hasRoom(line)) {
        // Its turn's share is spent: the next batch. (At its depth, a closing answer makes it ready.)
        if (line.active < this.#depth) this.#makeReady(line);
        continue;
      }
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
    this.#queueBatch();
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
