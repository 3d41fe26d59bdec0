import { ConfigError, type Env, httpUrl, integer, text } from "./parse.js";

/** The Aspose token endpoint and how it is called. */
export interface UpstreamConfig {
  readonly baseUrl: string;
  readonly tokenPath: string;
  /** Per-attempt timeout. */
  readonly timeoutMs: number;
  /** One deadline for the whole call, retries, back-off and reading the answer included. */
  readonly totalTimeoutMs: number;
  readonly retryLimit: number;
  readonly retryBaseDelayMs: number;
  /** A 429 whose Retry-After exceeds this is not waited for: the caller gets it back. */
  readonly maxRetryAfterMs: number;
  /** The largest answer read from Aspose, counted after decompression (a token answer is under 4 KiB). */
  readonly maxResponseBytes: number;
  /** Consecutive failed calls that open the circuit breaker. */
  readonly breakerThreshold: number;
  readonly breakerCooldownMs: number;
  /** Upstream calls in flight at once (the bulkhead), and how long a call may wait for a slot. */
  readonly maxConcurrentCalls: number;
  readonly queueWaitMs: number;
}

function tokenPath(env: Env): string {
  const raw = text(env, "ASPOSE_TOKEN_PATH", "/v4.0/cells/connect/token");
  if (!/^\/[A-Za-z0-9._~/-]*$/.test(raw)) {
    throw new ConfigError("ASPOSE_TOKEN_PATH must be a path starting with / (no query string)");
  }
  return raw;
}

/** ASPOSE_* */
export function upstreamConfig(env: Env): UpstreamConfig {
  const timeoutMs = integer(env, "ASPOSE_TIMEOUT_MS", 10_000, 100, 120_000);
  return {
    baseUrl: httpUrl(env, "ASPOSE_BASE_URL", "https://api.aspose.cloud"),
    tokenPath: tokenPath(env),
    timeoutMs,
    totalTimeoutMs: integer(env, "ASPOSE_TOTAL_TIMEOUT_MS", 25_000, timeoutMs, 300_000),
    retryLimit: integer(env, "ASPOSE_RETRY_LIMIT", 2, 0, 10),
    retryBaseDelayMs: integer(env, "ASPOSE_RETRY_BASE_DELAY_MS", 200, 1, 60_000),
    maxRetryAfterMs: integer(env, "ASPOSE_MAX_RETRY_AFTER_SECONDS", 5, 0, 300) * 1000,
    maxResponseBytes: integer(env, "ASPOSE_MAX_RESPONSE_BYTES", 65_536, 4_096, 16_777_216),
    breakerThreshold: integer(env, "ASPOSE_BREAKER_THRESHOLD", 5, 1, 1000),
    breakerCooldownMs: integer(env, "ASPOSE_BREAKER_COOLDOWN_SECONDS", 30, 1, 3600) * 1000,
    maxConcurrentCalls: integer(env, "ASPOSE_MAX_CONCURRENT_CALLS", 64, 1, 10_000),
    queueWaitMs: integer(env, "ASPOSE_QUEUE_WAIT_MS", 2_000, 0, 60_000),
  };
}
