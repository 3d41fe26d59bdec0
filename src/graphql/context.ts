import DataLoader from "dataloader";
import type { CircuitState } from "../tokens/types.js";
import type { CredentialKeyer } from "../tokens/credential.js";
import type { ServedToken, TokenProvider, TokenRequest } from "../tokens/types.js";

/** This replica as its readiness probe sees it (Query.asposeTokenService). */
export interface ReplicaStatus {
  readonly ready: boolean;
  readonly upstream: CircuitState;
}

/** What every resolver receives; made fresh for each HTTP request. */
export interface Context {
  /** Turns validated arguments into a credential handle (keys derived once, here). */
  readonly keyer: CredentialKeyer;
  /** Per-request loader: the same credentials asked for twice in one operation reach the service once. */
  readonly tokens: DataLoader<TokenRequest, ServedToken, string>;
  readonly requestId: string;
  readonly clientAddress: string;
  /** Read when asked, never per request: the probe's view at that instant. */
  readonly replica: () => ReplicaStatus;
}

/** Makes each request's Context from the process-wide token service. */
export function contextFactory(
  service: TokenProvider,
  keyer: CredentialKeyer,
  replica: () => ReplicaStatus,
): (facts: { readonly requestId: string; readonly clientAddress: string }) => Context {
  return ({ requestId, clientAddress }) => {
    const caller = { addressKey: keyer.addressKey(clientAddress), requestId, clientAddress };
    return {
      keyer,
      requestId,
      clientAddress,
      replica,
      tokens: new DataLoader<TokenRequest, ServedToken, string>(
        (requests) =>
          Promise.all(
            requests.map((request) =>
              service.issue(request, caller).catch((error: unknown) => toError(error)),
            ),
          ),
        {
          // No batching window: each field starts its work at once; dedupe still applies.
          batch: false,
          // The secret stays in the key only as an HMAC, a rejected token only as its hash; the
          // freshness options are part of the key so `minValidity`, `forceRefresh` or `rejectedToken`
          // on one alias is not lost to another.
          cacheKeyFn: (request) =>
            `${request.credential.lookupKey}|${request.minValiditySeconds}|${request.forceRefresh ? 1 : 0}|${request.rejectedToken?.key ?? ""}`,
        },
      ),
    };
  };
}

// DataLoader's contract: one result per key, an Error for a failed key.
function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error("Token request failed");
}
