/** The GraphQL request bodies the scenarios send. */

/** The mutation as a client sends it: credentials as variables, every field selected. */
export const ACCESS_TOKEN_MUTATION = `mutation AccessToken($clientId: String!, $clientSecret: String!) {
  accessToken(clientId: $clientId, clientSecret: $clientSecret) {
    accessToken
    tokenType
    expiresIn
    expiresAt
    issuedAt
    fromCache
    scopes
    defaultStorage
  }
}`;

/** The body of one accessToken request. */
export function tokenRequestBody(clientId: string, clientSecret: string): string {
  return JSON.stringify({
    operationName: "AccessToken",
    query: ACCESS_TOKEN_MUTATION,
    variables: { clientId, clientSecret },
  });
}

/** One operation asking for `aliases` tokens at once: refused when over MAX_TOKEN_FIELDS_PER_OPERATION. */
export function aliasedTokenRequestBody(clientId: string, clientSecret: string, aliases: number): string {
  const fields = Array.from(
    { length: aliases },
    (_, i) =>
      `t${i}: accessToken(clientId: $clientId, clientSecret: $clientSecret) { accessToken expiresIn }`,
  ).join("\n  ");
  return JSON.stringify({
    operationName: "ManyTokens",
    query: `mutation ManyTokens($clientId: String!, $clientSecret: String!) {\n  ${fields}\n}`,
    variables: { clientId, clientSecret },
  });
}

/** The form body the service sends upstream, for timing the upstream on its own. */
export function upstreamFormBody(clientId: string, clientSecret: string): string {
  return new URLSearchParams({
    grant_type: "client_credentials",
    client_id: clientId,
    client_secret: clientSecret,
  }).toString();
}

/** The GraphQL answer the constant baselines send: the shape of a cache hit. */
export function constantAnswer(accessToken: string): string {
  return JSON.stringify({
    data: {
      accessToken: {
        accessToken,
        tokenType: "Bearer",
        expiresIn: 3599,
        expiresAt: "2026-11-25T13:00:00.000Z",
        issuedAt: "2026-11-25T12:00:00.000Z",
        fromCache: true,
        scopes: ["api.billing", "api.identity", "api.products", "api.storage"],
        defaultStorage: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
      },
    },
  });
}

/** One operation asking for a token for each of several credentials (aliases t0, t1, ...). */
export function multiTokenRequestBody(
  credentials: ReadonlyArray<{ clientId: string; clientSecret: string }>,
): string {
  const declarations = credentials.map((_, i) => `$c${i}: String!, $s${i}: String!`).join(", ");
  const fields = credentials
    .map(
      (_, i) =>
        `t${i}: accessToken(clientId: $c${i}, clientSecret: $s${i}) { accessToken expiresIn fromCache }`,
    )
    .join("\n  ");
  const variables: Record<string, string> = {};
  credentials.forEach((credential, i) => {
    variables[`c${i}`] = credential.clientId;
    variables[`s${i}`] = credential.clientSecret;
  });
  return JSON.stringify({
    operationName: "Tokens",
    query: `mutation Tokens(${declarations}) {\n  ${fields}\n}`,
    variables,
  });
}
