/**
 * The connector to Aspose's token endpoint: one class, one configured got instance, domain records out
 * and coded GraphQLErrors for every failure. Wire shapes and got's objects never leave this module.
 */
import { type Span, SpanKind, SpanStatusCode, type Tracer } from "@opentelemetry/api";
import type { Got, Response } from "got";
import type { Logger } from "pino";
import type { UpstreamConfig } from "../config/index.js";
import { type ServiceError, upstreamBadResponse } from "../errors.js";
import { TraceAttribute } from "../observability/tracing.js";
import type { Credential } from "../tokens/credential.js";
import type { TokenIssuer } from "../tokens/ports.js";
import type { Clock, IssuedToken } from "../tokens/types.js";
import { describeBody } from "./body-shape.js";
import {
  outcomeOf,
  outcomeOfStatus,
  retriesOf,
  statusOf,
  translateFailure,
  type UpstreamOutcome,
} from "./failures.js";
import { type CallContext, tokenHttpClient } from "./http-client.js";
import { readTokenClaims } from "./jwt-claims.js";
import { checkTokenResponse, MIN_TOKEN_LIFETIME_SECONDS } from "./wire.js";

export type { UpstreamOutcome } from "./failures.js";

/** Receives one event per upstream attempt and one per whole call; metrics implement it. */
export interface UpstreamObserver {
  attempt(outcome: UpstreamOutcome): void;
  call(outcome: UpstreamOutcome, seconds: number): void;
}

// The breaker and bulkhead settings wrap the connector (tokens/); they are not its concern.
type AsposeSettings = Omit<
  UpstreamConfig,
  "breakerThreshold" | "breakerCooldownMs" | "maxConcurrentCalls" | "queueWaitMs" | "maxResponseBytes"
>;

/** The upstream settings from Config, plus what the process supplies. */
export interface AsposeTokenClientOptions extends AsposeSettings {
  readonly userAgent: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly observer?: UpstreamObserver;
  /** When tracing is on: one CLIENT span per call, retries and outcome as attributes. */
  readonly tracer?: Tracer;
  /** The largest answer read, counted after decompression; defaults to DEFAULT_MAX_RESPONSE_BYTES. */
  readonly maxResponseBytes?: number;
}

/**
 * A token answer is under 4 KiB (a JWT of about 1 KiB and three fields); 64 KiB leaves room for a
 * larger JWT or an error page while keeping a hostile answer's cost flat.
 */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

/** Exchanges client credentials for an Aspose access token over one keep-alive got client. */
export class AsposeTokenClient implements TokenIssuer {
  /** The full token URL; part of the credential key so tokens never cross upstreams. */
  readonly tokenUrl: string;
  readonly #http: Got;
  readonly #options: AsposeTokenClientOptions;
  readonly #maxResponseBytes: number;

  constructor(options: AsposeTokenClientOptions) {
    this.#options = options;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.tokenUrl = `${options.baseUrl}${options.tokenPath}`;
    this.#http = tokenHttpClient(options);
  }

  /** Asks Aspose for a token; resolves to a domain record or rejects with a coded ServiceError. */
  issue(credential: Credential): Promise<IssuedToken> {
    const tracer = this.#options.tracer;
    if (tracer === undefined) return this.#issue(credential, undefined);
    // The span names the token URL (validated at start-up: no credentials, no query); the form body,
    // with its secret, and the answer, with its token, are never attributes.
    const url = new URL(this.tokenUrl);
    return tracer.startActiveSpan(
      "POST",
      {
        kind: SpanKind.CLIENT,
        attributes: {
          "http.request.method": "POST",
          "server.address": url.hostname,
          "server.port": Number(url.port || (url.protocol === "https:" ? 443 : 80)),
          "url.full": this.tokenUrl,
        },
      },
      async (span) => {
        try {
          return await this.#issue(credential, span);
        } catch (error) {
          span.setAttribute(
            "error.type",
            error instanceof Error && "code" in error ? String(error.code) : "unknown",
          );
          span.setStatus({ code: SpanStatusCode.ERROR });
          throw error;
        } finally {
          span.end();
        }
      },
    );
  }

  async #issue(credential: Credential, span: Span | undefined): Promise<IssuedToken> {
    const { clock, totalTimeoutMs, observer } = this.#options;
    // Validity is counted from the moment we asked, so the token never outlives what Aspose meant.
    const sentAtMs = clock();
    const started = performance.now();
    // One deadline for the whole call. A plain controller and timer, cleared when the call ends:
    // AbortSignal.timeout() costs several times more per call (measured on the miss path).
    const abort = new AbortController();
    const deadlineTimer = setTimeout(() => abort.abort(), totalTimeoutMs);
    const context: CallContext = { deadlineMs: Date.now() + totalTimeoutMs };
    let oversized: { transferred: number } | undefined;
    let response: Response<string>;
    try {
      const pending = this.#http.post(this.tokenUrl, {
        // Form body, never the query string: a secret in a URL ends up in access logs.
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: credential.clientId,
          client_secret: credential.exposeSecret(),
        }).toString(),
        signal: abort.signal,
        context,
      });
      // got counts `transferred` on the stream it reads, after decompression, so a gzip bomb is cut at
      // the cap on its inflated bytes; an honest Content-Length over the cap is refused before reading.
      // Aborting the call's own signal destroys the socket: the transfer stops, it is not drained.
      pending.on("downloadProgress", ({ transferred, total }) => {
        if (oversized !== undefined) return;
        if (transferred > this.#maxResponseBytes || (total ?? 0) > this.#maxResponseBytes) {
          oversized = { transferred: Math.max(transferred, total ?? 0) };
          abort.abort();
        }
      });
      response = await pending;
    } catch (error) {
      const outcome = oversized === undefined ? outcomeOf(error) : "oversized";
      observer?.attempt(outcome);
      observer?.call(outcome, (performance.now() - started) / 1000);
      if (span !== undefined) traceCall(span, outcome, statusOf(error), retriesOf(error));
      if (oversized !== undefined) {
        throw this.#refused(
          `an answer larger than the cap of ${this.#maxResponseBytes} bytes (counted inflated); the transfer was cut`,
          { upstreamBytes: oversized.transferred },
        );
      }
      throw translateFailure(error, credential, this.#options.logger);
    } finally {
      clearTimeout(deadlineTimer);
    }
    const status = response.statusCode;
    const outcome = outcomeOfStatus(status);
    observer?.attempt(outcome);
    observer?.call(outcome, (performance.now() - started) / 1000);
    if (span !== undefined) traceCall(span, outcome, status, response.retryCount);
    // got calls a 3xx "ok" when redirects are not followed; only a 2xx can carry a token.
    if (status < 200 || status > 299) {
      throw this.#refused(
        status >= 300 && status < 400
          ? "the status is a redirect, which is never followed: it would replay the secret to its Location"
          : "the status is not 2xx",
        { upstreamStatus: status, upstreamBody: describeBody(response.body, credential) },
      );
    }
    const checked = checkTokenResponse(response.body);
    if (!checked.ok) {
      // Only the body's shape: a 200 body may hold a token in a form the redaction cannot recognise.
      throw this.#refused(checked.reason, {
        upstreamStatus: status,
        upstreamExpiresIn: checked.expiresIn,
        upstreamBody: describeBody(response.body, credential),
      });
    }
    const parsed = checked.response;
    const claims = readTokenClaims(parsed.accessToken);
    const byExpiresIn = sentAtMs + parsed.expiresInSeconds * 1000;
    const expiresAtMs = claims.exp === undefined ? byExpiresIn : Math.min(byExpiresIn, claims.exp * 1000);
    // After the JWT exp cap: an expired or dying token would be served once and refetched every call.
    // Rounded up: the exp is in whole seconds, and a fraction here is only the request's own latency.
    const remainingSeconds = Math.ceil((expiresAtMs - clock()) / 1000);
    if (remainingSeconds < MIN_TOKEN_LIFETIME_SECONDS) {
      throw this.#refused(
        `the token's remaining lifetime at receipt (JWT exp capping expires_in) is under ${MIN_TOKEN_LIFETIME_SECONDS} seconds`,
        { upstreamStatus: status, remainingSeconds },
      );
    }
    return {
      accessToken: parsed.accessToken,
      tokenType: parsed.tokenType,
      issuedAtMs: sentAtMs,
      expiresAtMs,
      scopes: claims.scopes,
      defaultStorage: claims.defaultStorage,
    };
  }

  /** Logs one refused answer with its reason (never a value from it) and makes its coded error. */
  #refused(reason: string, fields: Record<string, unknown>): ServiceError {
    this.#options.logger.error(
      { ...fields, reason },
      "Aspose token endpoint gave an answer that is not a usable token",
    );
    return upstreamBadResponse();
  }
}

/** One call's status, retries (the semantic conventions' resend count) and outcome class on its span. */
function traceCall(span: Span, outcome: UpstreamOutcome, status: number | undefined, retries: number): void {
  span.setAttribute(TraceAttribute.UPSTREAM_OUTCOME, outcome);
  span.setAttribute("http.request.resend_count", retries);
  if (status !== undefined) span.setAttribute("http.response.status_code", status);
}
