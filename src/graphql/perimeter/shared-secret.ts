import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { RefusalReason } from "./refusal.js";

/**
 * The shared-secret header Apollo documents for router-only subgraphs: the router inserts it on every
 * subgraph request. One or two secrets are accepted (two while rotating).
 */
export function sharedSecretCheck(
  header: string,
  secrets: readonly Buffer[],
): (request: IncomingMessage) => RefusalReason | undefined {
  // Compared as SHA-256 digests: equal lengths for timingSafeEqual, and the time taken says nothing
  // about the secret's length or how much of it a guess got right.
  const expected = secrets.map((secret) => digest(secret));
  return (request) => {
    const presented = request.headers[header];
    if (typeof presented !== "string" || presented === "") return "secret_missing";
    const candidate = digest(Buffer.from(presented));
    let matched = false;
    // Every secret is compared, so the time does not say which one matched.
    for (const secret of expected) matched = timingSafeEqual(candidate, secret) || matched;
    return matched ? undefined : "secret_wrong";
  };
}

function digest(value: Buffer): Buffer {
  return createHash("sha256").update(value).digest();
}
