/**
 * The token endpoint's JSON, validated. Aspose answers
 * `{"access_token":"<JWT>","expires_in":3600,"token_type":"Bearer"}`; unknown fields are ignored.
 */

export interface TokenResponse {
  readonly accessToken: string;
  readonly expiresInSeconds: number;
  readonly tokenType: string;
}

/** The OAuth error codes the identity server uses in 400 answers. */
export interface OAuthErrorBody {
  readonly error: string;
}

function parseObject(body: string): Record<string, unknown> | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}

/** Parses a success body; undefined for anything malformed, truncated, HTML or incomplete. */
export function parseTokenResponse(body: string): TokenResponse | undefined {
  const record = parseObject(body);
  if (record === undefined) return undefined;
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = record;
  if (typeof accessToken !== "string" || accessToken.length === 0 || accessToken.length > 16_384)
    return undefined;
  // A bearer token goes into an HTTP header: anything outside visible ASCII would break it.
  if (!/^[\x21-\x7e]+$/.test(accessToken)) return undefined;
  if (typeof expiresIn !== "number" || !Number.isSafeInteger(expiresIn) || expiresIn <= 0) return undefined;
  if (typeof tokenType !== "string" || tokenType.length === 0 || tokenType.length > 64) return undefined;
  return { accessToken, expiresInSeconds: expiresIn, tokenType };
}

/** Reads the `error` code of an OAuth error body; undefined when the body is not one. */
export function parseOAuthError(body: string): OAuthErrorBody | undefined {
  const record = parseObject(body);
  return record !== undefined && typeof record.error === "string" ? { error: record.error } : undefined;
}
