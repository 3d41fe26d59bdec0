/**
 * The Aspose connector as tests build it, straight against a fake upstream: test timings (a 2 s attempt,
 * a 1 ms back-off base), logs captured line by line, and the coded error a call is refused with.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { AsposeTokenClient, type AsposeTokenClientOptions } from "../../src/aspose/token-client.js";
import { ServiceError } from "../../src/errors.js";
import { createLogger } from "../../src/observability/logger.js";

/** A log destination that appends each written line to `lines` (and tells `onLine`, if given). */
export function lineSink(lines: string[], onLine?: (line: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (line === "") continue;
        lines.push(line);
        onLine?.(line);
      }
      callback();
    },
  });
}

/** A connector to `baseUrl` logging into `lines`; `options` override the test defaults. */
export function testConnector(
  baseUrl: string,
  lines: string[],
  options: Partial<AsposeTokenClientOptions> = {},
): AsposeTokenClient {
  return new AsposeTokenClient({
    baseUrl,
    tokenPath: "/connect/token",
    timeoutMs: 2000,
    totalTimeoutMs: 4000,
    retryLimit: 2,
    retryBaseDelayMs: 1,
    maxRetryAfterMs: 5000,
    userAgent: "aspose-token-subgraph/test",
    clock: Date.now,
    logger: createLogger("debug", lineSink(lines)),
    ...options,
  });
}

/** The coded ServiceError `promise` rejects with; fails the test when it resolves or throws anything else. */
export async function codedRejection(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ServiceError, `expected a ServiceError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected the call to be refused with a coded error");
}
