/**
 * Aspose as the token service sees it: the got connector behind a circuit breaker, behind a bulkhead,
 * behind the per-credential cool-downs. The breaker sees only real upstream outcomes; the bulkhead in
 * front of it bounds waiting callers; a pair Aspose answered 429 is refused before either, so it takes
 * no slot and is never counted as a fault. The token service asks the chain's `refusal()` (cool-down,
 * then open circuit) before it reserves an attempt, so neither refusal holds a place of the guess
 * budget. Part of the composition root (app.ts).
 */
import type { Tracer } from "@opentelemetry/api";
import type { Logger } from "pino";
import { AsposeTokenClient } from "./aspose/token-client.js";
import type { Config } from "./config/index.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { Bulkhead } from "./tokens/bulkhead.js";
import { CircuitBreaker, type CircuitState } from "./tokens/circuit-breaker.js";
import type { CooldownStore } from "./tokens/cooldown-store.js";
import { CredentialCooldown } from "./tokens/credential-cooldown.js";
import type { TokenIssuer } from "./tokens/ports.js";
import type { Clock } from "./tokens/types.js";
import { SERVICE_VERSION } from "./version.js";

export interface UpstreamOptions {
  readonly config: Config;
  readonly logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly clock: Clock;
  readonly tracer: Tracer | undefined;
  /** Where Aspose's per-credential 429s are remembered: this process, or shared through the store. */
  readonly cooldowns: CooldownStore;
}

/** The issuer the token service calls, the token URL credential keys are scoped to, the circuit's state. */
export interface Upstream {
  readonly issuer: TokenIssuer;
  readonly tokenUrl: string;
  circuit(): CircuitState;
}

// 429s for this many distinct credentials within the window are Aspose limiting the service as a
// whole (a breaker fault); fewer are per-pair cool-downs. Three: two pairs can be one careless owner
// (an old and a new secret), three within a minute with nothing answered in between cannot.
const RATE_LIMITED_PAIRS = 3;
const RATE_LIMIT_WINDOW_MS = 60_000;

/** Builds the upstream from Config. */
export function createUpstream(options: UpstreamOptions): Upstream {
  const { config, logger, metrics, clock } = options;
  const { upstream } = config;
  const client = new AsposeTokenClient({
    ...upstream,
    userAgent: `aspose-token-subgraph/${SERVICE_VERSION} (+node ${process.versions.node})`,
    clock,
    logger: logger.child({ component: "aspose" }),
    observer: metrics,
    tracer: options.tracer,
  });
  const breaker = new CircuitBreaker(client, {
    threshold: upstream.breakerThreshold,
    cooldownMs: upstream.breakerCooldownMs,
    clock,
    rateLimitedPairs: RATE_LIMITED_PAIRS,
    rateLimitWindowMs: RATE_LIMIT_WINDOW_MS,
    onStateChange: (state) => {
      metrics.circuitState(state);
      logger.warn({ circuit: state }, "Aspose circuit breaker changed state");
    },
  });
  metrics.circuitState("closed");
  const bulkhead = new Bulkhead(breaker, {
    maxConcurrent: upstream.maxConcurrentCalls,
    maxWaitMs: upstream.queueWaitMs,
    onShed: () => metrics.upstreamShed(),
  });
  const issuer = new CredentialCooldown(bulkhead, {
    store: options.cooldowns,
    clock,
    onRefused: () => metrics.upstreamRateLimitedLocal(),
  });
  return { issuer, tokenUrl: client.tokenUrl, circuit: () => breaker.state };
}
