import { httpUrl, matching, text } from "./formats.js";
import { ConfigError, type Env, integer } from "./parse.js";
import { section } from "./section.js";

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

/** The variables of the call to Aspose's token endpoint. */
export const UPSTREAM = section(
  "Aspose upstream",
  "Where Aspose's token endpoint is and how it is called: timeouts, retries, the circuit breaker and the upstream budget. How they behave while Aspose fails is in [caching](caching.md#when-aspose-is-failing).",
  {
    ASPOSE_BASE_URL: httpUrl({
      default: "https://api.aspose.cloud",
      does: "The origin of Aspose's token endpoint.",
      details:
        "Plain `http://` is accepted for a local fake (`npm run dev` uses one); credentials in the URL are refused, since they would reach logs.",
    }),
    ASPOSE_TOKEN_PATH: text({
      format: matching(/^\/[A-Za-z0-9._~/-]*$/, "a path starting with / (no query string)"),
      default: "/v4.0/cells/connect/token",
      does: "The token endpoint's path under `ASPOSE_BASE_URL`.",
      details:
        "Aspose also serves `/v3.0/cells/connect/token` and `/connect/token`. Tokens are cached per token URL, so changing it starts with an empty cache.",
    }),
    ASPOSE_TIMEOUT_MS: integer({
      min: 100,
      max: 120_000,
      default: 10_000,
      does: "The timeout of one attempt.",
    }),
    ASPOSE_TOTAL_TIMEOUT_MS: integer({
      min: 100,
      max: 300_000,
      default: 25_000,
      does: "One deadline for the whole call: attempts, retries, back-off and reading the answer.",
      details:
        "At least `ASPOSE_TIMEOUT_MS`. With a shared store, this + 2 s is also the longest a replica waits for another replica's fetch (the fetch lock itself is a short renewed lease, see [Redis](redis.md)).",
    }),
    ASPOSE_RETRY_LIMIT: integer({
      min: 0,
      max: 10,
      default: 2,
      does: "Retries of a 429, 502, 503 or 504 answer or a connection error (a 400 is never retried).",
      details: "A retry that could not finish before the deadline is not made.",
    }),
    ASPOSE_RETRY_BASE_DELAY_MS: integer({
      min: 1,
      max: 60_000,
      default: 200,
      does: "The base of the exponential back-off between retries, with jitter (half to all of base × 2^(retry − 1)).",
      details: "A `Retry-After` from Aspose is honoured instead.",
    }),
    ASPOSE_MAX_RETRY_AFTER_SECONDS: integer({
      min: 0,
      max: 300,
      default: 5,
      does: "A 429 asking to wait longer than this is not waited for: the caller gets `UPSTREAM_RATE_LIMITED` with `retryAfter`.",
    }),
    ASPOSE_MAX_RESPONSE_BYTES: integer({
      min: 4096,
      max: 16_777_216,
      default: 65_536,
      does: "The largest answer read from Aspose, counted after decompression; a larger one is cut and refused as `UPSTREAM_BAD_RESPONSE`.",
      details: "A token answer is under 4 KiB; the cap also stops a gzip bomb.",
    }),
    ASPOSE_BREAKER_THRESHOLD: integer({
      min: 1,
      max: 1000,
      default: 5,
      does: "Consecutive failed upstream calls (each a whole call, retries included) that open this replica's circuit breaker.",
      details:
        "An `INVALID_CREDENTIALS` answer counts as Aspose being up. A 429 for one credential is that credential's cool-down, not a failure; 429s for 3 distinct credentials within a minute are ([caching](caching.md#when-aspose-is-failing)).",
    }),
    ASPOSE_BREAKER_COOLDOWN_SECONDS: integer({
      min: 1,
      max: 3600,
      default: 30,
      does: "How long an open circuit refuses calls at once (a cached token served stale, or `UPSTREAM_UNAVAILABLE` with `retryAfter`) before it lets one probe call through.",
    }),
    ASPOSE_MAX_CONCURRENT_CALLS: integer({
      min: 1,
      max: 10_000,
      default: 64,
      does: "Upstream calls in flight at once on this replica (the bulkhead).",
      details:
        "A slow Aspose then cannot pile up sockets and memory, and a cold start of many credentials cannot flood it.",
    }),
    ASPOSE_QUEUE_WAIT_MS: integer({
      min: 0,
      max: 60_000,
      default: 2000,
      does: "How long a call past `ASPOSE_MAX_CONCURRENT_CALLS` waits for a slot, first come first served, before it gets `UPSTREAM_UNAVAILABLE` with `retryAfter: 1`.",
    }),
  },
);

const v = UPSTREAM.variables;

/** The upstream section from the environment. */
export function upstreamConfig(env: Env): UpstreamConfig {
  const timeoutMs = v.ASPOSE_TIMEOUT_MS.read(env);
  const totalTimeoutMs = v.ASPOSE_TOTAL_TIMEOUT_MS.read(env);
  if (totalTimeoutMs < timeoutMs)
    throw new ConfigError("ASPOSE_TOTAL_TIMEOUT_MS must be at least ASPOSE_TIMEOUT_MS");
  return {
    baseUrl: v.ASPOSE_BASE_URL.read(env),
    tokenPath: v.ASPOSE_TOKEN_PATH.read(env),
    timeoutMs,
    totalTimeoutMs,
    retryLimit: v.ASPOSE_RETRY_LIMIT.read(env),
    retryBaseDelayMs: v.ASPOSE_RETRY_BASE_DELAY_MS.read(env),
    maxRetryAfterMs: v.ASPOSE_MAX_RETRY_AFTER_SECONDS.read(env) * 1000,
    maxResponseBytes: v.ASPOSE_MAX_RESPONSE_BYTES.read(env),
    breakerThreshold: v.ASPOSE_BREAKER_THRESHOLD.read(env),
    breakerCooldownMs: v.ASPOSE_BREAKER_COOLDOWN_SECONDS.read(env) * 1000,
    maxConcurrentCalls: v.ASPOSE_MAX_CONCURRENT_CALLS.read(env),
    queueWaitMs: v.ASPOSE_QUEUE_WAIT_MS.read(env),
  };
}
