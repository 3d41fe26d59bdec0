const CORS_ALLOWED_HEADERS =
  "content-type, apollographql-client-name, apollographql-client-version, apollo-require-preflight, x-apollo-operation-name";

/**
 * CORS for browser callers: a listed origin gets the allow headers (and `vary: origin`, since the
 * answer depends on it); any other origin, or none, gets no CORS header at all.
 */
export function corsHeaders(
  origins: readonly string[],
): (origin: string | undefined) => Record<string, string> | undefined {
  const allowed = new Set(origins);
  return (origin) => {
    if (origin === undefined || !allowed.has(origin)) return undefined;
    return {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST, OPTIONS",
      "access-control-allow-headers": CORS_ALLOWED_HEADERS,
      vary: "origin",
    };
  };
}
