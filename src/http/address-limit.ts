import ipaddr from "ipaddr.js";

/**
 * The key a client address is counted under: an IPv4 address as it is (IPv4-mapped IPv6 included), an
 * IPv6 address by its /64 prefix, the block one subscriber or one host usually gets; counting single
 * IPv6 addresses would give every attacker 2^64 of them.
 */
export function addressKey(address: string): string {
  if (!address.includes(":")) return address;
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.process(address);
  } catch {
    return address;
  }
  if (parsed.kind() === "ipv4") return parsed.toString();
  const { parts } = parsed as ipaddr.IPv6; // kind() says which; ipaddr.js's types cannot narrow on it
  return `${parts
    .slice(0, 4)
    .map((part) => part.toString(16))
    .join(":")}::/64`;
}

/** Counts what each client address holds (connections, or requests through a proxy), up to a limit. */
export class AddressLimit {
  readonly #held = new Map<string, number>();
  readonly #limit: number;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Counts one more for `key`; false, counting nothing, when it already holds the limit. */
  admit(key: string): boolean {
    const held = this.#held.get(key) ?? 0;
    if (held >= this.#limit) return false;
    this.#held.set(key, held + 1);
    return true;
  }

  /** Gives back one that `admit` counted. */
  release(key: string): void {
    const held = this.#held.get(key) ?? 0;
    if (held <= 1) this.#held.delete(key);
    else this.#held.set(key, held - 1);
  }
}
