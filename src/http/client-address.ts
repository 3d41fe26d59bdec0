import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";

/** Whether the hop `distance` steps from the socket, at `address`, is a trusted reverse proxy. */
export type ProxyTrust = (address: string, distance: number) => boolean;

/** Trusts the listed proxies (TRUSTED_PROXIES, validated at start-up); an empty list trusts none. */
export function proxyTrust(trustedProxies: readonly string[]): ProxyTrust {
  return proxyAddr.compile([...trustedProxies]);
}

/**
 * The client's address for brute-force accounting: the peer's, or, when the peer is a trusted proxy,
 * the nearest X-Forwarded-For entry not itself a trusted proxy (proxy-addr, as Express does). Entries
 * further left are whatever the client wrote and could be forged to dodge the lockout; so could every
 * entry when the header comes from an untrusted peer, which is why trust is by address, not by hop
 * count.
 */
export function clientAddress(request: IncomingMessage, trust: ProxyTrust): string {
  return proxyAddr(request, trust);
}
