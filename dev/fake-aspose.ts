import type { KeyObject } from "node:crypto";
import { createHash, generateKeyPair, sign } from "node:crypto";
import { EventEmitter } from "node:events";
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from "node:http";
import { createServer, STATUS_CODES } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { PairRateLimit, type PairRateLimitSettings } from "./pair-rate-limit.js";

// A loopback stand-in for the Aspose token endpoint, faithful to the shared description of the
// upstream's wire behaviour (aspose-token-api.md).
// Where the real server's behaviour is only inferred (IdentityServer4), the fake follows
// IdentityServer4 and says so next to the rule.

/** A way the upstream can misbehave; applied to token-path requests only, after latency. */
export type Fault =
  | { kind: "status"; status: 429 | 500 | 502 | 503 | 504 | 401; retryAfter?: string }
  | { kind: "html" }
  | { kind: "html200" }
  | { kind: "truncated" }
  | { kind: "empty" }
  | { kind: "badShape"; body?: unknown }
  | { kind: "oauthError"; error: string; description?: string }
  | { kind: "reset" }
  | { kind: "hang" };

/** One request as the fake received it, on any path. */
export interface TokenRequestRecord {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  rawBody: string;
  form: Record<string, string> | undefined;
  clientId: string | undefined;
  at: number;
}

/** Start-up settings for {@link FakeAspose}. */
export interface FakeAsposeOptions {
  clients?: Record<string, string>;
  lifetimeSeconds?: number;
  now?: () => number;
  includeScope?: boolean;
  /** Aspose's per-pair 429 after failed requests (off unless given; `{}` for Aspose's 5 and 600 s). */
  pairRateLimit?: PairRateLimitSettings;
}

interface FakeAsposeEvents {
  request: [TokenRequestRecord];
}

interface KeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

interface Waiter {
  n: number;
  resolve: () => void;
  reject: (error: Error) => void;
}

interface PendingTimer {
  timer: NodeJS.Timeout;
  wake: () => void;
}

interface Gate {
  opened: Promise<void>;
  open: () => void;
}

const TOKEN_PATHS: ReadonlySet<string> = new Set([
  "/connect/token",
  "/v3.0/cells/connect/token",
  "/v4.0/cells/connect/token",
]);

// Headers seen on real token answers; IdentityServer4 sends the same no-cache pair on its errors.
const JSON_HEADERS = {
  "Content-Type": "application/json; charset=UTF-8",
  "Cache-Control": "no-store, no-cache, max-age=0",
  Pragma: "no-cache",
} as const;

const ISSUER = "https://api.aspose.cloud";
const AUDIENCE = ["https://api.aspose.cloud", "https://api.aspose.cloud/resources"];
const SCOPES = ["api.billing", "api.identity", "api.products", "api.storage"];

// A real token request is a few hundred bytes; anything far larger is a client bug, not a token request.
const MAX_BODY_BYTES = 64 * 1024;

// Generating a 2048-bit RSA key takes tens to hundreds of milliseconds; one key per process keeps a
// suite that starts a fake per test fast, and nothing can tell the difference because the real
// upstream's key is not published either.
let sharedKeys: Promise<KeyPair> | undefined;

function keyPair(): Promise<KeyPair> {
  sharedKeys ??= new Promise<KeyPair>((resolve, reject) => {
    generateKeyPair("rsa", { modulusLength: 2048 }, (error, publicKey, privateKey) => {
      if (error) reject(error);
      else resolve({ publicKey, privateKey });
    });
  });
  return sharedKeys;
}

/** A real HTTP server on 127.0.0.1 that issues Aspose-shaped RS256 tokens and injects upstream faults. */
export class FakeAspose extends EventEmitter<FakeAsposeEvents> {
  /** Every request received, on any path, in arrival order. */
  readonly requests: TokenRequestRecord[] = [];
  /** The verification key for the tokens this fake signs (the real one is not published). */
  readonly publicKey: KeyObject;

  readonly #server: Server;
  readonly #privateKey: KeyObject;
  readonly #clients = new Map<string, string>();
  readonly #now: () => number;
  readonly #includeScope: boolean;
  readonly #perClient = new Map<string, number>();
  readonly #faults: Fault[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<PendingTimer>();
  readonly #gates = new Set<Gate>();
  readonly #waiters = new Set<Waiter>();
  #url = "";
  #lifetime = 3600;
  #latency = 0;
  #fault: Fault | undefined;
  #pairRateLimit: PairRateLimit | undefined;
  #total = 0;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(keys: KeyPair, options: FakeAsposeOptions) {
    super();
    this.publicKey = keys.publicKey;
    this.#privateKey = keys.privateKey;
    this.#now = options.now ?? Date.now;
    this.#includeScope = options.includeScope ?? false;
    for (const [id, secret] of Object.entries(options.clients ?? {})) this.addClient(id, secret);
    if (options.lifetimeSeconds !== undefined) this.setLifetime(options.lifetimeSeconds);
    this.setPairRateLimit(options.pairRateLimit);
    this.#server = createServer((req, res) => {
      void this.#handle(req, res);
    });
    this.#server.on("connection", (socket) => {
      this.#sockets.add(socket);
      socket.on("close", () => this.#sockets.delete(socket));
    });
    // Malformed HTTP must never take the fake down; answering 400 and hanging up is what Node does
    // by default, but only while nothing else listens, so say it explicitly.
    this.#server.on("clientError", (_error, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
      socket.destroy();
    });
  }

  /** Generates (or reuses) the signing key and listens on an ephemeral loopback port. */
  static async start(options: FakeAsposeOptions = {}): Promise<FakeAspose> {
    const fake = new FakeAspose(await keyPair(), options);
    await new Promise<void>((resolve, reject) => {
      fake.#server.once("error", reject);
      fake.#server.listen(0, "127.0.0.1", () => {
        fake.#server.off("error", reject);
        resolve();
      });
    });
    const address = fake.#server.address() as AddressInfo; // listen() on a host and port always yields an AddressInfo
    fake.#url = `http://127.0.0.1:${address.port}`;
    return fake;
  }

  /** Base URL, e.g. `http://127.0.0.1:41234`, without a trailing slash. */
  get url(): string {
    return this.#url;
  }

  /** Requests that reached a token path, faulted or not. */
  get totalTokenRequests(): number {
    return this.#total;
  }

  /** Token requests whose form `client_id` equals `clientId`. */
  countFor(clientId: string): number {
    return this.#perClient.get(clientId) ?? 0;
  }

  /** Accepts this id/secret pair from now on (replacing any earlier secret for the id). */
  addClient(clientId: string, clientSecret: string): void {
    this.#clients.set(clientId, clientSecret);
  }

  /** Sets `expires_in` (and `exp - nbf`) for tokens issued from now on. */
  setLifetime(seconds: number): void {
    // Zero and negative lifetimes stay possible on purpose: a client must survive them too.
    if (!Number.isSafeInteger(seconds)) throw new RangeError(`lifetime must be an integer, got ${seconds}`);
    this.#lifetime = seconds;
  }

  /** Delays every answer (any path) by `ms` milliseconds. */
  setLatency(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0)
      throw new RangeError(`latency must be a finite number >= 0, got ${ms}`);
    this.#latency = ms;
  }

  /** Queues `fault` for the next `times` token requests; queued faults win over {@link setFault}. */
  failNext(fault: Fault, times = 1): void {
    if (!Number.isSafeInteger(times) || times < 1)
      throw new RangeError(`times must be an integer >= 1, got ${times}`);
    for (let i = 0; i < times; i++) this.#faults.push(fault);
  }

  /** Applies `fault` to every token request until called with `undefined`. */
  setFault(fault: Fault | undefined): void {
    this.#fault = fault;
  }

  /**
   * Turns Aspose's per-pair rate limit on (`{}`: 5 failed requests, then 429 with Retry-After for
   * 600 s) or, with undefined, off; turning it on starts every pair afresh.
   */
  setPairRateLimit(settings: PairRateLimitSettings | undefined): void {
    this.#pairRateLimit = settings === undefined ? undefined : new PairRateLimit(settings, this.#now);
  }

  /** Holds token requests arriving from now on; the returned function lets them (and later ones) proceed. */
  hold(): () => void {
    let open = (): void => {};
    const opened = new Promise<void>((resolve) => {
      open = resolve;
    });
    const gate: Gate = { opened, open };
    this.#gates.add(gate);
    return () => {
      this.#gates.delete(gate);
      gate.open();
    };
  }

  /** Resolves once at least `n` token requests have arrived; rejects if the fake closes first. */
  waitForRequests(n: number): Promise<void> {
    if (this.#total >= n) return Promise.resolve();
    if (this.#closed)
      return Promise.reject(new Error(`FakeAspose closed with ${this.#total} of ${n} token requests`));
    return new Promise<void>((resolve, reject) => {
      this.#waiters.add({ n, resolve, reject });
    });
  }

  /** Zeroes the counters and empties {@link requests}; queued and persistent faults stay. */
  resetCounters(): void {
    this.#total = 0;
    this.#perClient.clear();
    this.requests.length = 0;
  }

  /** Stops listening and destroys every connection, including held and hung ones. */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    // Wake everything that is parked so no handler outlives the server; each one checks #closed.
    for (const pending of this.#timers) {
      clearTimeout(pending.timer);
      pending.wake();
    }
    this.#timers.clear();
    for (const gate of this.#gates) gate.open();
    this.#gates.clear();
    for (const waiter of this.#waiters) {
      waiter.reject(new Error(`FakeAspose closed with ${this.#total} of ${waiter.n} token requests`));
    }
    this.#waiters.clear();
    this.#closing = new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
    });
    this.#server.closeAllConnections();
    for (const socket of this.#sockets) socket.destroy();
    return this.#closing;
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      await this.#answer(req, res);
    } catch {
      // Whatever went wrong (a throwing "request" listener included), hang up rather than crash.
      req.socket.destroy();
    }
  }

  async #answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const queryAt = target.indexOf("?");
    const path = queryAt === -1 ? target : target.slice(0, queryAt);
    const query = queryAt === -1 ? "" : target.slice(queryAt + 1);

    const read = await readBody(req);
    if (this.#closed || read.kind === "aborted") return;
    if (read.kind === "tooLarge") {
      send(
        res,
        413,
        { "Content-Type": "text/plain; charset=utf-8", Connection: "close" },
        "Payload Too Large",
      );
      return;
    }
    const body = read.text;

    const contentType = req.headers["content-type"];
    const form = parseForm(contentType, body);
    const record: TokenRequestRecord = {
      method: req.method ?? "",
      path,
      query,
      contentType,
      headers: { ...req.headers },
      rawBody: body,
      form: form?.values,
      clientId: form?.values.client_id,
      at: this.#now(),
    };
    this.requests.push(record);

    if (!TOKEN_PATHS.has(path)) {
      await this.#delay(this.#latency);
      if (this.#closed) return;
      send(res, 404, { "Content-Type": "text/plain; charset=utf-8" }, "Not Found");
      return;
    }

    // Decide everything that depends on arrival order now, so a held request keeps its place.
    this.#total++;
    if (record.clientId !== undefined) {
      this.#perClient.set(record.clientId, (this.#perClient.get(record.clientId) ?? 0) + 1);
    }
    const fault = this.#faults.shift() ?? this.#fault;
    const gates = [...this.#gates].map((gate) => gate.opened);
    this.#notifyWaiters();
    this.emit("request", record);

    if (gates.length > 0) await Promise.all(gates);
    if (this.#closed) return;
    await this.#delay(this.#latency);
    if (this.#closed) return;

    if (fault) this.#sendFault(req, res, fault);
    else this.#sendToken(req, res, form);
  }

  #sendToken(req: IncomingMessage, res: ServerResponse, form: ParsedForm | undefined): void {
    // IdentityServer4 answers a non-POST with invalid_request (some versions 405); the doc settles on 400.
    if (req.method !== "POST" || form === undefined || form.duplicate) {
      sendJson(res, 400, { error: "invalid_request" });
      return;
    }
    const values = form.values;
    // IdentityServer4 authenticates the client before it looks at grant_type or scope, so bad
    // credentials win over a bad grant; unknown id and wrong secret are indistinguishable by design.
    const clientId = values.client_id ?? "";
    const clientSecret = values.client_secret ?? "";
    const limit = this.#pairRateLimit;
    const refusedFor = limit?.refusedFor(clientId, clientSecret);
    if (refusedFor !== undefined) {
      send(
        res,
        429,
        { "Retry-After": String(refusedFor), "Content-Type": "application/json" },
        JSON.stringify({ message: STATUS_CODES[429] }),
      );
      return;
    }
    const expected = this.#clients.get(clientId);
    if (clientId === "" || expected === undefined || values.client_secret !== expected) {
      limit?.failed(clientId, clientSecret);
      sendJson(res, 400, { error: "invalid_client" });
      return;
    }
    limit?.succeeded(clientId, clientSecret);
    if (values.grant_type !== "client_credentials") {
      sendJson(res, 400, { error: "unsupported_grant_type" });
      return;
    }
    // An empty scope means "all allowed scopes" to IdentityServer4; only a named scope is refused.
    if (values.scope !== undefined && values.scope !== "") {
      sendJson(res, 400, { error: "invalid_scope" });
      return;
    }
    const answer: Record<string, unknown> = {
      access_token: this.#issue(clientId),
      expires_in: this.#lifetime,
      token_type: "Bearer",
    };
    if (this.#includeScope) answer.scope = SCOPES.join(" ");
    sendJson(res, 200, answer);
  }

  #issue(clientId: string): string {
    const nbf = Math.floor(this.#now() / 1000);
    const header = { alg: "RS256", typ: "JWT" };
    // Exactly the claims seen in real tokens: no iat, jti or sub, so two tokens issued in the same
    // second to the same client are identical, as they may be upstream.
    const claims = {
      nbf,
      exp: nbf + this.#lifetime,
      iss: ISSUER,
      aud: AUDIENCE,
      client_id: clientId,
      client_default_storage: guidFrom(`storage:${clientId}`),
      client_identity_user_id: userIdFrom(clientId),
      scope: SCOPES,
    };
    const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
    const signature = sign("sha256", Buffer.from(signingInput), this.#privateKey).toString("base64url");
    return `${signingInput}.${signature}`;
  }

  #sendFault(req: IncomingMessage, res: ServerResponse, fault: Fault): void {
    switch (fault.kind) {
      case "status": {
        const reason = STATUS_CODES[fault.status] ?? "Error";
        const headers: OutgoingHttpHeaders = {};
        // Retry-After is honoured on any status (503 may carry it too), not only on 429.
        if (fault.retryAfter !== undefined) headers["Retry-After"] = fault.retryAfter;
        if (fault.status === 429 || fault.status === 401) {
          send(
            res,
            fault.status,
            { ...headers, "Content-Type": "application/json" },
            JSON.stringify({ message: reason }),
          );
        } else {
          send(res, fault.status, { ...headers, "Content-Type": "text/plain; charset=utf-8" }, reason);
        }
        return;
      }
      case "html":
        send(res, 502, { "Content-Type": "text/html" }, BAD_GATEWAY_PAGE);
        return;
      case "html200":
        send(res, 200, { "Content-Type": "text/html; charset=utf-8" }, MAINTENANCE_PAGE);
        return;
      case "truncated":
        // A complete HTTP message whose JSON stops mid-token: the client must not trust a 200 alone.
        send(res, 200, JSON_HEADERS, '{"access_token":"eyJ');
        return;
      case "empty":
        send(res, 200, JSON_HEADERS, "");
        return;
      case "badShape":
        send(
          res,
          200,
          JSON_HEADERS,
          JSON.stringify(fault.body ?? { expires_in: "3600", token_type: "Bearer" }),
        );
        return;
      case "oauthError": {
        const body: Record<string, string> = { error: fault.error };
        if (fault.description !== undefined) body.error_description = fault.description;
        sendJson(res, 400, body);
        return;
      }
      case "reset":
        // RST rather than FIN, so the client sees ECONNRESET and not a clean "other side closed".
        req.socket.resetAndDestroy();
        return;
      case "hang":
        // Never answer; close() destroys the socket.
        return;
    }
  }

  #notifyWaiters(): void {
    for (const waiter of this.#waiters) {
      if (this.#total >= waiter.n) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  #delay(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const pending: PendingTimer = {
        timer: setTimeout(() => {
          this.#timers.delete(pending);
          resolve();
        }, ms),
        wake: resolve,
      };
      this.#timers.add(pending);
    });
  }
}

/** Decodes a JWT's claims without verifying it (the service cannot verify Aspose tokens either). */
export function decodeJwtClaims(token: string): Record<string, unknown> {
  const parts = token.split(".");
  const payload = parts[1];
  if (parts.length !== 3 || payload === undefined) throw new TypeError("not a JWT: expected three segments");
  const claims: unknown = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new TypeError("not a JWT: claims are not a JSON object");
  }
  return claims as Record<string, unknown>; // checked just above: a non-null, non-array object
}

interface ParsedForm {
  values: Record<string, string>;
  duplicate: boolean;
}

// undefined unless the body is declared form-urlencoded in a charset the fake can decode: percent
// escapes are UTF-8 here, so any other declared charset would silently misread a secret.
function parseForm(contentType: string | undefined, body: string): ParsedForm | undefined {
  if (contentType === undefined) return undefined;
  const [mediaType = "", ...parameters] = contentType.split(";");
  if (mediaType.trim().toLowerCase() !== "application/x-www-form-urlencoded") return undefined;
  for (const parameter of parameters) {
    const [name = "", value = ""] = parameter.split("=", 2);
    if (name.trim().toLowerCase() !== "charset") continue;
    const charset = value
      .trim()
      .replace(/^"(.*)"$/, "$1")
      .toLowerCase();
    if (charset !== "utf-8" && charset !== "utf8" && charset !== "us-ascii") return undefined;
  }
  // RFC 6749 §3.2: parameters must not be repeated; keep the first for the record, flag the request.
  const entries = new Map<string, string>();
  let duplicate = false;
  for (const [name, value] of new URLSearchParams(body)) {
    if (entries.has(name)) duplicate = true;
    else entries.set(name, value);
  }
  // fromEntries defines own properties, so a "__proto__" field cannot reach the prototype.
  return { values: Object.fromEntries(entries), duplicate };
}

type BodyRead = { kind: "complete"; text: string } | { kind: "aborted" } | { kind: "tooLarge" };

function readBody(req: IncomingMessage): Promise<BodyRead> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: BodyRead): void => {
      if (done) return;
      done = true;
      resolve(result);
    };
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.pause();
        finish({ kind: "tooLarge" });
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => finish({ kind: "complete", text: Buffer.concat(chunks).toString("utf8") }));
    // "close" after "end" is a no-op; before it, the client went away mid-body.
    req.on("error", () => finish({ kind: "aborted" }));
    req.on("close", () => finish({ kind: "aborted" }));
  });
}

function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  send(res, status, JSON_HEADERS, JSON.stringify(body));
}

function base64url(text: string): string {
  return Buffer.from(text, "utf8").toString("base64url");
}

function guidFrom(seed: string): string {
  const hex = createHash("sha256").update(seed).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function userIdFrom(clientId: string): string {
  const digest = createHash("sha256").update(`user:${clientId}`).digest();
  return String(100_000 + (digest.readUInt32BE(0) % 900_000));
}

const BAD_GATEWAY_PAGE = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx</center>
</body>
</html>
`;

const MAINTENANCE_PAGE = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Aspose Cloud - Maintenance</title></head>
<body><h1>We'll be back soon</h1><p>Aspose Cloud is undergoing scheduled maintenance.</p></body>
</html>
`;
