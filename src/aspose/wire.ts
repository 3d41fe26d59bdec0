/**
 * The token endpoint's JSON, validated. Aspose answers
 * `{"access_token":"<JWT>","expires_in":3600,"token_type":"Bearer"}`; unknown fields are ignored.
 */
import { ACCESS_TOKEN_CHARACTERS, MAX_ACCESS_TOKEN_LENGTH } from "../tokens/access-token-shape.js";

/**
 * The shortest lifetime worth accepting, as `expires_in` and as what is left at receipt after the JWT
 * `exp` cap: a token that dies within seconds cannot be handed to a caller and used.
 */
export const MIN_TOKEN_LIFETIME_SECONDS = 10;
/** The longest `expires_in` believed: Aspose was seen issuing up to 7 days; beyond a month is a fault. */
export const MAX_TOKEN_LIFETIME_SECONDS = 31 * 86_400;

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

/** A checked success body: the token response, or why it is refused (no value of the body in it). */
export type TokenResponseCheck =
  | { readonly ok: true; readonly response: TokenResponse }
  | { readonly ok: false; readonly reason: string; readonly expiresIn?: number };

/** Checks a success body; refuses anything malformed, truncated, HTML, incomplete or out of range. */
export function checkTokenResponse(body: string): TokenResponseCheck {
  const record = parseObject(body);
  if (record === undefined) return { ok: false, reason: "the body is not a JSON object" };
  const { access_token: accessToken, expires_in: expiresIn, token_type: tokenType } = record;
  if (
    typeof accessToken !== "string" ||
    accessToken.length === 0 ||
    accessToken.length > MAX_ACCESS_TOKEN_LENGTH
  )
    return { ok: false, reason: "access_token is missing, empty or longer than 16 KiB" };
  if (!ACCESS_TOKEN_CHARACTERS.test(accessToken))
    return { ok: false, reason: "access_token holds characters an Authorization header cannot carry" };
  if (typeof expiresIn !== "number" || !Number.isInteger(expiresIn))
    return { ok: false, reason: "expires_in is not a whole number" };
  // 2^31 s and more overflow GraphQL's Int and every cache's TTL; a second is too short to serve.
  if (expiresIn < MIN_TOKEN_LIFETIME_SECONDS || expiresIn > MAX_TOKEN_LIFETIME_SECONDS)
    return {
      ok: false,
      reason: `expires_in is outside ${MIN_TOKEN_LIFETIME_SECONDS}..${MAX_TOKEN_LIFETIME_SECONDS} seconds`,
      expiresIn,
    };
  if (typeof tokenType !== "string" || tokenType.length === 0 || tokenType.length > 64)
    return { ok: false, reason: "token_type is missing, empty or longer than 64 characters" };
  return { ok: true, response: { accessToken, expiresInSeconds: expiresIn, tokenType } };
}

/** Reads the `error` code of an OAuth error body; undefined when the body is not one. */
export function parseOAuthError(body: string): OAuthErrorBody | undefined {
  const record = parseObject(body);
  return record !== undefined && typeof record.error === "string" ? { error: record.error } : undefined;
}
