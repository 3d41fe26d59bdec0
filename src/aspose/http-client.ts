/**
 * The one got instance the connector calls Aspose with: keep-alive agents, the per-attempt timeout, and
 * the retry policy (which errors, how often, how long to wait, never past the call's deadline).
 */
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import got, { type Got } from "got";
import { outcomeOf, type UpstreamOutcome } from "./failures.js";

/** What the retry policy and the client need from the connector's options. */
export interface TokenHttpOptions {
  readonly timeoutMs: number;
  readonly retryLimit: number;
  readonly retryBaseDelayMs: number;
  readonly maxRetryAfterMs: number;
  readonly userAgent: string;
  readonly observer?: { attempt(outcome: UpstreamOutcome): void };
}

// Safe to retry: nothing was issued, or issuing again is harmless (a token request has no side
// effect a second request could double). 500 is left out: it usually repeats, and Aspose's 500s are
// answers, not outages. A 400 such as invalid_client is never retried.
const RETRY_STATUS_CODES = [429, 502, 503, 504];
const RETRY_ERROR_CODES = [
  "ETIMEDOUT",
  "ECONNRESET",
  "EADDRINUSE",
  "ECONNREFUSED",
  "EPIPE",
  "ENOTFOUND",
  "ENETUNREACH",
  "EAI_AGAIN",
];

/** got's per-call user data the retry policy reads: the call's deadline (epoch ms). */
export interface CallContext extends Record<string, unknown> {
  readonly deadlineMs: number;
}

/** The configured got instance for token calls. */
export function tokenHttpClient(options: TokenHttpOptions): Got {
  const observer = options.observer;
  return got.extend({
    timeout: { request: options.timeoutMs },
    agent: {
      http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
      https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
    },
    headers: {
      accept: "application/json",
      "content-type": "application/x-www-form-urlencoded",
      "user-agent": options.userAgent,
    },
    responseType: "text",
    // A redirect would replay the form, secret included, to wherever Location points.
    followRedirect: false,
    retry: {
      limit: options.retryLimit,
      methods: ["POST"],
      statusCodes: RETRY_STATUS_CODES,
      errorCodes: RETRY_ERROR_CODES,
      maxRetryAfter: options.maxRetryAfterMs,
      calculateDelay: ({ attemptCount, computedValue, retryAfter, error }) => {
        if (computedValue === 0) return 0;
        // Exponential back-off with full jitter, so replicas retrying together spread out.
        const delay =
          retryAfter !== undefined
            ? computedValue
            : Math.max(
                1,
                Math.round(options.retryBaseDelayMs * 2 ** (attemptCount - 1) * (0.5 + Math.random() / 2)),
              );
        const deadline = error.options.context.deadlineMs;
        // A retry that cannot finish before the deadline only delays the error.
        if (typeof deadline === "number" && Date.now() + delay >= deadline) return 0;
        return delay;
      },
    },
    hooks: {
      beforeRetry: [
        (error) => {
          observer?.attempt(outcomeOf(error));
        },
      ],
    },
  });
}
