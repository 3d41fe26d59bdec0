import { type Env, integer, oneOf } from "./parse.js";
import { section } from "./section.js";

const PROXY_ACCOUNTING = ["forwarded", "exempt"] as const;
/** How connections from TRUSTED_PROXIES count against the per-address limit. */
export type ProxyAccounting = (typeof PROXY_ACCOUNTING)[number];

/**
 * What one client may hold of the public port: time to send a request, connections, body memory,
 * pipelined requests, unread answers. Each bound turns a slow or greedy client's cost to the service
 * into a cost to the client.
 */
export interface EdgeLimitsConfig {
  /** The longest a whole request, head and body, may take to arrive (node:http's requestTimeout). */
  readonly requestTimeoutMs: number;
  /** A body still arriving must bring at least this many bytes in every whole second; 0: no minimum. */
  readonly minBodyBytesPerSecond: number;
  /** Bytes all unfinished request bodies together may hold; a new upload that does not fit is refused. */
  readonly bodyBudgetBytes: number;
  /** Connections one client address (an IPv6 /64) may hold open at once. */
  readonly maxConnectionsPerAddress: number;
  /** TRUSTED_PROXIES' connections: counted per forwarded client, request by request, or not at all. */
  readonly proxyAccounting: ProxyAccounting;
  /** Requests of one connection worked on at once; further pipelined ones wait for their turn. */
  readonly pipelineDepth: number;
  /** A connection whose client takes none of its waiting answers for this long is closed. */
  readonly sendTimeoutMs: number;
}

/** The variables of the edge's flood limits. */
export const EDGE_LIMITS = section(
  "Edge limits",
  "What one client may hold of the public port: the time to send a request, connections per address, memory in request bodies, pipelined requests and answers it does not read. The connection cap and the head timeout are in [Server](#server); why each bound exists and what it costs is in [operations](operations.md#slow-and-greedy-clients).",
  {
    REQUEST_TIMEOUT_MS: integer({
      min: 100,
      max: 300_000,
      default: 5000,
      does: "The longest a whole request, head and body, may take to arrive; a request still incomplete then is answered 408 and its connection closed.",
      details:
        "At least `REQUEST_HEADERS_TIMEOUT_MS`. A token request is well under 1 KiB and arrives in one packet; even a body of `REQUEST_BODY_LIMIT_BYTES` (64 KiB) needs only 13 KiB/s to make it. Raise it with `REQUEST_BODY_LIMIT_BYTES` if you raise that for slow links.",
    }),
    REQUEST_BODY_MIN_BYTES_PER_SECOND: integer({
      min: 0,
      max: 10_485_760,
      default: 1024,
      does: "A request body still arriving must bring at least this many bytes in every whole second after the one it began in; a slower one is answered 408 `REQUEST_TIMEOUT` and its connection closed. `0` turns the minimum off.",
      details:
        "It cuts a body that stalls or trickles within two seconds instead of holding a connection, and its memory, until `REQUEST_TIMEOUT_MS`.",
    }),
    REQUEST_BODY_BUDGET_BYTES: integer({
      min: 1024,
      max: 1_073_741_824,
      default: 16_777_216,
      does: "The bytes request bodies still arriving may hold together, each counted at its declared `Content-Length` from when it starts to be read (a chunked one as it grows); a body over 4 KiB that does not fit is answered 503 `SERVER_BUSY` (with `Connection: close`) before any of it is read.",
      details:
        "At least `REQUEST_BODY_LIMIT_BYTES`. Bodies of up to 4 KiB, every token request among them, are counted but never refused, so a flood of large uploads cannot make honest requests wait; they add at most 4 KiB per open connection. The default holds 256 bodies of the largest default size at once, and keeps body memory far below a 512 MiB container's limit however many connections upload.",
    }),
    MAX_CONNECTIONS_PER_ADDRESS: integer({
      min: 1,
      max: 1_000_000,
      default: 256,
      does: "Open connections one client address may hold on the public port; further ones are closed as soon as they are accepted. IPv6 addresses count per /64 prefix, the block one subscriber usually gets.",
      details:
        "One source then cannot take the whole of `MAX_CONNECTIONS`. Behind a gateway or an ingress, every connection comes from a few proxy addresses: list them in `TRUSTED_PROXIES`, or they are limited like any client (see `TRUSTED_PROXY_CONNECTIONS`). Many clients behind one NAT share an address: raise it for them.",
    }),
    TRUSTED_PROXY_CONNECTIONS: oneOf({
      allowed: PROXY_ACCOUNTING,
      default: "forwarded",
      does: "How connections from `TRUSTED_PROXIES` count against `MAX_CONNECTIONS_PER_ADDRESS`: `forwarded` counts each request in progress against the client address the proxy forwarded (`X-Forwarded-For`), and refuses one past the limit with 429 `TOO_MANY_CONNECTIONS`; `exempt` does not count them at all.",
      details:
        "A proxy's connections carry many clients' requests, so they are never limited by the proxy's own address. `forwarded` keeps one client of a proxy that streams request bodies (Envoy, most gateways) from taking every connection through it; `exempt` suits a proxy that enforces its own per-client limits.",
    }),
    PIPELINE_DEPTH: integer({
      min: 1,
      max: 1000,
      default: 4,
      does: "How many requests of one connection are worked on at once. Further pipelined requests wait, and the connection is not read, until earlier answers have been handed to the client's side of the connection.",
      details:
        "Each connection's next requests are started in turn with every other connection's, so one client pipelining thousands of requests gets its share of the CPU, not all of it. Browsers, gateways and HTTP client libraries do not pipeline by default.",
    }),
    SEND_TIMEOUT_MS: integer({
      min: 100,
      max: 300_000,
      default: 5000,
      does: "A connection whose answers wait to be sent while its client takes none of them for this long is closed.",
      details:
        "A client that sends requests and never reads the answers would otherwise hold its connection, and the answers, for ever. The system's socket buffers take a few megabytes of answers before a connection counts as waiting, so a client that reads at all never meets it.",
    }),
  },
);

const v = EDGE_LIMITS.variables;

/** The edge limits from the environment. */
export function edgeLimitsConfig(env: Env): EdgeLimitsConfig {
  return {
    requestTimeoutMs: v.REQUEST_TIMEOUT_MS.read(env),
    minBodyBytesPerSecond: v.REQUEST_BODY_MIN_BYTES_PER_SECOND.read(env),
    bodyBudgetBytes: v.REQUEST_BODY_BUDGET_BYTES.read(env),
    maxConnectionsPerAddress: v.MAX_CONNECTIONS_PER_ADDRESS.read(env),
    proxyAccounting: v.TRUSTED_PROXY_CONNECTIONS.read(env),
    pipelineDepth: v.PIPELINE_DEPTH.read(env),
    sendTimeoutMs: v.SEND_TIMEOUT_MS.read(env),
  };
}
