/**
 * What one client may hold of a server's connections: a share of them per address, requests in
 * progress per connection (pipelining.ts), and unread answers (send-timeout.ts).
 *
 * A direct client's connections count against its address from the moment they are accepted, and
 * past the limit are closed at once, unanswered, exactly as the connection cap closes them: kept open
 * until their first request could be answered, they would hold the slots the limit protects. A
 * trusted proxy's connections carry many clients' requests, so they never count against the proxy's
 * own address; with `forwarded` accounting each request counts against the client address the proxy
 * forwarded, from its start until its answer is out, and one past the limit is answered 429.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { ProxyAccounting } from "../config/index.js";
import { AddressLimit, addressKey } from "./address-limit.js";
import type { ProxyTrust } from "./client-address.js";
import { Pipelining, type Serve } from "./pipelining.js";
import { SendWatch } from "./send-timeout.js";
import type { Shed } from "./shedding.js";

/** The limits a guard applies. */
export interface GuardLimits {
  readonly maxConnectionsPerAddress: number;
  readonly proxyAccounting: ProxyAccounting;
  readonly pipelineDepth: number;
  readonly sendTimeoutMs: number;
}

/** A server's guard: admits requests in their connection's turn and counts what it holds. */
export interface ConnectionGuard {
  /** Serves the request when its connection's turn comes (see pipelining.ts). */
  admit(request: IncomingMessage, response: ServerResponse): void;
  /**
   * Counts a request that came through a trusted proxy against `clientAddress` until its answer is
   * out; false when that address already holds the limit (the request must be refused). Requests
   * from direct connections pass: their connection was counted when it was accepted.
   */
  admitForwarded(request: IncomingMessage, response: ServerResponse, clientAddress: string): boolean;
  /** Requests parsed and waiting for their connection's turn. */
  readonly waiting: () => number;
  /** Connections open now. */
  readonly open: () => number;
}

/** Guards `server`'s connections; `serve` starts the work for one request. */
export function guardConnections(
  server: Server,
  options: { readonly limits: GuardLimits; readonly proxyTrust: ProxyTrust; readonly shed: Shed },
  serve: Serve,
): ConnectionGuard {
  const { limits, proxyTrust, shed } = options;
  const addresses = new AddressLimit(limits.maxConnectionsPerAddress);
  const forwarded = limits.proxyAccounting === "forwarded";
  let open = 0;
  // The TCP connection, before any TLS handshake: refused here, an attacker costs no handshake.
  server.on("connection", (socket: Socket) => {
    const peer = socket.remoteAddress;
    if (peer === undefined) return; // already gone
    open += 1;
    socket.once("close", () => {
      open -= 1;
    });
    if (proxyTrust(peer, 0)) return;
    const key = addressKey(peer);
    if (!addresses.admit(key)) {
      socket.destroy();
      shed("address_limit");
      return;
    }
    socket.once("close", () => addresses.release(key));
  });
  const sends = new SendWatch(server, limits.sendTimeoutMs, () => shed("send_timeout"));
  const pipelining = new Pipelining(limits.pipelineDepth, serve);
  return {
    admit(request, response) {
      sends.watch(request.socket);
      pipelining.admit(request, response);
    },
    admitForwarded(request, response, clientAddress) {
      if (!forwarded || !proxyTrust(request.socket.remoteAddress ?? "", 0)) return true;
      const key = addressKey(clientAddress);
      if (!addresses.admit(key)) {
        shed("address_limit");
        return false;
      }
      response.once("close", () => addresses.release(key));
      return true;
    },
    waiting: () => pipelining.waiting,
    open: () => open,
  };
}
