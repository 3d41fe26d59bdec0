import type { AsposeTokenClient } from "../aspose/token-client.js";
import { ServiceError, tooManyAttempts } from "../errors.js";
import type { AttemptLimiter } from "../limits/attempt-limiter.js";
import type { CredentialKeyer } from "./credential-key.js";
import { isUsable, type RefreshMargin } from "./refresh-policy.js";
import type { TokenCache, TokenSource } from "./token-cache.js";
import type { Clock, IssuedToken, ServedToken, TokenRequest } from "./types.js";

export interface TokenServiceDependencies {
  readonly client: AsposeTokenClient;
  readonly cache: TokenCache;
  readonly keyer: CredentialKeyer;
  readonly limiter: AttemptLimiter;
  readonly margin: RefreshMargin;
  readonly clock: Clock;
  readonly onLookup?: (source: TokenSource) => void;
}

/** Who is asking: the client address the brute-force accounting counts against. */
export interface Caller {
  readonly address: string;
}

/**
 * Serves access tokens: lockout check, then the cache, then one upstream fetch shared by concurrent
 * callers. The order matters: the lockout is checked before the cache so that a locked-out clientId
 * cannot keep guessing secrets against cached tokens.
 */
export class TokenService {
  readonly #deps: TokenServiceDependencies;

  constructor(deps: TokenServiceDependencies) {
    this.#deps = deps;
  }

  /** The token for a validated request, from the cache or Aspose; rejects with coded errors. */
  async issue(request: TokenRequest, caller: Caller): Promise<ServedToken> {
    const { cache, keyer, limiter, margin, clock } = this.#deps;
    const clientKey = keyer.clientKey(request.clientId);
    const addressKey = keyer.addressKey(caller.address);
    const locked = await limiter.lockedFor(clientKey, addressKey);
    if (locked !== undefined) throw tooManyAttempts(locked);

    const result = await cache.obtain({
      key: keyer.credentialKey(request),
      credentials: request,
      forceRefresh: request.forceRefresh,
      isUsable: (token) => isUsable(token, clock(), margin, request.minValiditySeconds),
      fetch: () => this.#fetch(request, clientKey, addressKey),
    });
    this.#deps.onLookup?.(result.source);
    return { token: result.token, fromCache: result.source === "cache", servedAtMs: clock() };
  }

  async #fetch(request: TokenRequest, clientKey: string, addressKey: string): Promise<IssuedToken> {
    const reserved = await this.#deps.limiter.reserve(clientKey, addressKey);
    if (!reserved.allowed) throw tooManyAttempts(reserved.retryAfterSeconds);
    const { reservation } = reserved;
    let token: IssuedToken;
    try {
      token = await this.#deps.client.requestToken(request);
    } catch (error) {
      if (error instanceof ServiceError && error.code === "INVALID_CREDENTIALS") await reservation.failed();
      else await reservation.released();
      throw error;
    }
    await reservation.succeeded();
    return token;
  }
}
