import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

// A request id from outside is echoed into logs: keep it short and harmless.
const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request id from the trusted header when well-formed, else a new UUID. */
export function requestIdOf(request: IncomingMessage, header: string): string {
  const given = request.headers[header];
  const value = Array.isArray(given) ? given[0] : given;
  return value !== undefined && SAFE_REQUEST_ID.test(value) ? value : randomUUID();
}
