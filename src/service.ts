/**
 * The token service as the app runs it: over the stores and the upstream that Config asks for, with its
 * lockout gate, reporting to metrics, spans (when tracing) and the audit log.
 */
import type { Config } from "./config/index.js";
import { CredentialGate } from "./limits/credential-gate.js";
import type { AuditLog } from "./observability/audit-log.js";
import type { ServiceMetrics } from "./observability/metrics.js";
import { activeSpan, TraceAttribute, type Tracing } from "./observability/tracing.js";
import { type Stores, sharedLifetime } from "./stores/index.js";
import { TokenService } from "./tokens/token-service.js";
import type { Clock } from "./tokens/types.js";
import type { Upstream } from "./upstream.js";

/** What the token service is built from, all made by createApp. */
export interface TokenServiceParts {
  readonly config: Config;
  readonly metrics: ServiceMetrics;
  readonly stores: Stores;
  readonly upstream: Upstream;
  readonly tracing: Tracing;
  readonly clock: Clock;
  readonly audit: AuditLog | undefined;
}

/** The token service over the stores and the upstream, reporting to metrics (and spans when tracing). */
export function createTokenService(parts: TokenServiceParts): TokenService {
  const { config, metrics, stores, upstream, tracing, clock, audit } = parts;
  const { tokens } = config;
  metrics.watchTokenCacheSize(() => stores.tokenStore.size());
  return new TokenService({
    issuer: upstream.issuer,
    store: stores.tokenStore,
    gate: new CredentialGate({
      limiter: stores.limiter,
      verifiers: stores.verifiers,
      onRefusal: (reason) => metrics.credentialRefusal(reason),
    }),
    forceRefreshMinIntervalMs: config.limits.forceRefreshMinIntervalSeconds * 1000,
    policy: {
      margin: { minSeconds: tokens.refreshMarginMinSeconds, ratio: tokens.refreshMarginRatio },
      ahead: { minSeconds: tokens.refreshAheadSeconds, ratio: tokens.refreshAheadRatio },
    },
    clock,
    claimWaitMs: sharedLifetime(config),
    // With tracing off the callback is the metric alone: the hit path pays for no span lookup.
    onLookup: tracing.enabled
      ? (source) => {
          metrics.tokenLookup(source);
          activeSpan()?.setAttribute(TraceAttribute.CACHE, source);
        }
      : (source) => metrics.tokenLookup(source),
    onClaimWait: () => metrics.sharedStore.lockWait(),
    onRefreshAhead: (outcome, request, caller, error) => {
      metrics.refreshAhead(outcome);
      audit?.refreshedAhead(caller, request.credential.clientId, outcome, error);
    },
  });
}
