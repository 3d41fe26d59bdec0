/**
 * Reads the informational claims of an Aspose access token. The signature is NOT verified (Aspose
 * publishes no key), so nothing here may be used for an authorisation decision: only to cap the
 * cache lifetime by `exp` and to show scopes and the default storage to the caller.
 */

export interface TokenClaims {
  /** Epoch seconds, when present and numeric. */
  readonly exp: number | undefined;
  readonly scopes: readonly string[];
  readonly defaultStorage: string | null;
}

const NO_CLAIMS: TokenClaims = Object.freeze({
  exp: undefined,
  scopes: Object.freeze([]),
  defaultStorage: null,
});

/** Decodes the payload of a JWT; any token that is not a well-formed JWT yields no claims. */
export function readTokenClaims(token: string): TokenClaims {
  const parts = token.split(".");
  const payload = parts[1];
  if (parts.length !== 3 || payload === undefined || payload === "") return NO_CLAIMS;
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    return NO_CLAIMS;
  }
  if (typeof claims !== "object" || claims === null) return NO_CLAIMS;
  const record = claims as Record<string, unknown>;
  return {
    exp: typeof record.exp === "number" && Number.isFinite(record.exp) ? record.exp : undefined,
    scopes: scopesOf(record.scope),
    defaultStorage: typeof record.client_default_storage === "string" ? record.client_default_storage : null,
  };
}

// IdentityServer4 puts `scope` as an array in the JWT; OAuth's space-separated string is accepted too.
function scopesOf(scope: unknown): string[] {
  if (Array.isArray(scope)) return scope.filter((item): item is string => typeof item === "string");
  if (typeof scope === "string") return scope.split(" ").filter((item) => item !== "");
  return [];
}
