/**
 * A hostile Aspose token endpoint on loopback, for the answers a broken or malicious upstream can give:
 * huge, endless and trickling bodies, gzip bombs, redirects carrying a token, out-of-range lifetimes and
 * error bodies that echo what they were sent. Every answer is made lazily and written with back-pressure,
 * so the server itself stays small however large the answer it plays; it counts what it wrote and how
 * many transfers the client cut, so tests can prove the client stopped reading.
 *
 * Unlike dev/fake-aspose.ts it checks no credentials: whatever arrives on any path gets the answer set.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { gzipSync } from "node:zlib";

/** One answer the server gives to every request until changed. */
export type HostileAnswer =
  /** Any JSON value with any status and headers: a 302 with a token body, an out-of-range lifetime... */
  | {
      readonly kind: "json";
      readonly status?: number;
      readonly body: unknown;
      readonly headers?: Readonly<Record<string, string>>;
    }
  /** A valid token answer padded with JSON whitespace to `bytes`; `contentLength: false` sends it chunked. */
  | { readonly kind: "huge"; readonly bytes: number; readonly contentLength?: boolean }
  /** 200 JSON that never ends, written as fast as the client reads. */
  | { readonly kind: "endless" }
  /**
   * Gzipped zeros that inflate to `inflatedBytes` (Infinity: never ends), sent as concatenated gzip
   * members of 1 MiB each (about 1 KiB on the wire apiece).
   */
  | { readonly kind: "gzipBomb"; readonly inflatedBytes: number }
  /** 200 JSON that starts, then trickles one space every `intervalMs` and never ends. */
  | { readonly kind: "trickle"; readonly intervalMs: number };

export interface HostileUpstreamOptions {
  readonly answer?: HostileAnswer;
}

const MEMBER_INFLATED_BYTES = 1024 * 1024;
// One gzip member of 1 MiB of zeros; RFC 1952 §2.2 lets members follow each other in one stream.
const GZIP_MEMBER = gzipSync(Buffer.alloc(MEMBER_INFLATED_BYTES));
const CHUNK_BYTES = 64 * 1024;
const SPACES = Buffer.alloc(CHUNK_BYTES, 0x20);
const LETTERS = Buffer.alloc(CHUNK_BYTES, 0x61);

/** An unsigned JWT with these claims: enough for the connector, which cannot verify a signature anyway. */
export function unsignedJwt(claims: Readonly<Record<string, unknown>>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "RS256", typ: "JWT" })}.${part(claims)}.c2lnbmF0dXJlLW5vdC1jaGVja2Vk`;
}

/** A token answer body as Aspose shapes it; `expiresIn` may be anything, `exp` defaults to matching it. */
export function tokenBody(
  options: { expiresIn?: unknown; exp?: number; nowMs?: number } = {},
): Record<string, unknown> {
  const expiresIn = "expiresIn" in options ? options.expiresIn : 3600;
  const nbf = Math.floor((options.nowMs ?? Date.now()) / 1000);
  const exp = options.exp ?? (typeof expiresIn === "number" ? nbf + expiresIn : nbf + 3600);
  return {
    access_token: unsignedJwt({ nbf, exp, iss: "https://api.aspose.cloud", scope: ["api.storage"] }),
    expires_in: expiresIn,
    token_type: "Bearer",
  };
}

/** The hostile upstream: start it, point the connector at `url`, switch answers with `setAnswer`. */
export class HostileUpstream {
  readonly url: string;
  /** Requests received, whatever their path. */
  requests = 0;
  /** Body bytes written to the wire (after compression), over all answers. */
  bytesWritten = 0;
  /** Answers the client stopped reading before their end. */
  transfersCut = 0;
  readonly #server: Server;
  #answer: HostileAnswer;
  readonly #cutWaiters: (() => void)[] = [];

  private constructor(server: Server, url: string, answer: HostileAnswer) {
    this.#server = server;
    this.url = url;
    this.#answer = answer;
  }

  /** Listens on an ephemeral loopback port. */
  static async start(options: HostileUpstreamOptions = {}): Promise<HostileUpstream> {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo; // node:http types address() as string | AddressInfo | null.
    const upstream = new HostileUpstream(
      server,
      `http://127.0.0.1:${port}`,
      options.answer ?? { kind: "json", body: tokenBody() },
    );
    server.on("request", (request, response) => upstream.#handle(request, response));
    return upstream;
  }

  /** The answer for every later request. */
  setAnswer(answer: HostileAnswer): void {
    this.#answer = answer;
  }

  /** Resolves once `count` transfers in all have been cut by the client. */
  async waitForCut(count = 1): Promise<void> {
    while (this.transfersCut < count) await new Promise<void>((resolve) => this.#cutWaiters.push(resolve));
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #handle(request: IncomingMessage, response: ServerResponse): void {
    this.requests += 1;
    // The request body (credentials) is read and dropped: this server never keeps a secret.
    request.resume();
    const answer = this.#answer;
    switch (answer.kind) {
      case "json": {
        const body = Buffer.from(JSON.stringify(answer.body));
        response.writeHead(answer.status ?? 200, {
          "content-type": "application/json; charset=UTF-8",
          "content-length": String(body.length),
          ...answer.headers,
        });
        this.bytesWritten += body.length;
        response.end(body);
        return;
      }
      case "huge": {
        const tail = Buffer.from(JSON.stringify(tokenBody()).slice(1));
        const padding = Math.max(0, answer.bytes - tail.length - 1);
        response.writeHead(200, {
          "content-type": "application/json; charset=UTF-8",
          ...(answer.contentLength === false ? {} : { "content-length": String(answer.bytes) }),
        });
        let left = padding;
        let state: "open" | "padding" | "tail" | "done" = "open";
        this.#pump(response, () => {
          if (state === "open") {
            state = "padding";
            return Buffer.from("{");
          }
          if (state === "padding" && left > 0) {
            const size = Math.min(left, CHUNK_BYTES);
            left -= size;
            return SPACES.subarray(0, size);
          }
          if (state !== "done") {
            state = "done";
            return tail;
          }
          return undefined;
        });
        return;
      }
      case "endless": {
        response.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
        let started = false;
        this.#pump(response, () => {
          if (started) return LETTERS;
          started = true;
          return Buffer.from('{"access_token":"');
        });
        return;
      }
      case "gzipBomb": {
        response.writeHead(200, {
          "content-type": "application/json; charset=UTF-8",
          "content-encoding": "gzip",
        });
        let members = answer.inflatedBytes / MEMBER_INFLATED_BYTES;
        this.#pump(response, () => {
          if (members <= 0) return undefined;
          members -= 1;
          return GZIP_MEMBER;
        });
        return;
      }
      case "trickle": {
        response.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
        this.#write(response, Buffer.from("{"));
        const timer = setInterval(() => this.#write(response, SPACES.subarray(0, 1)), answer.intervalMs);
        response.on("close", () => {
          clearInterval(timer);
          this.#cut();
        });
        return;
      }
    }
  }

  #write(response: ServerResponse, chunk: Buffer): boolean {
    this.bytesWritten += chunk.length;
    return response.write(chunk);
  }

  /** Writes chunks from `next` while the client reads; ends when `next` has none, stops when cut. */
  #pump(response: ServerResponse, next: () => Buffer | undefined): void {
    let finished = false;
    response.on("close", () => {
      if (!finished) this.#cut();
    });
    const write = (): void => {
      while (!response.destroyed) {
        const chunk = next();
        if (chunk === undefined) {
          finished = true;
          response.end();
          return;
        }
        if (!this.#write(response, chunk)) {
          response.once("drain", write);
          return;
        }
      }
    };
    write();
  }

  #cut(): void {
    this.transfersCut += 1;
    for (const resolve of this.#cutWaiters.splice(0)) resolve();
  }
}
