import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";

/**
 * The client's address for brute-force accounting. X-Forwarded-For is trusted only for as many hops
 * as the operator declares (TRUST_PROXY_HOPS): each trusted proxy appends the address it saw, so the
 * entry `hops` from the right is the one the outermost trusted proxy saw. Anything to its left is
 * client-supplied and could be forged to dodge the lockout.
 */
export function clientAddress(request: IncomingMessage, trustProxyHops: number): string {
  const peer = request.socket.remoteAddress ?? "unknown";
  if (trustProxyHops === 0) return peer;
  const header = request.headers["x-forwarded-for"];
  const value = Array.isArray(header) ? header.join(",") : header;
  if (value === undefined) return peer;
  const hops = value.split(",").map((entry) => entry.trim());
  const candidate = hops[hops.length - trustProxyHops];
  return candidate !== undefined && isIP(candidate) !== 0 ? candidate : peer;
}
