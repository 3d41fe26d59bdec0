import type { AccessTokenResolvers } from "../__generated__/resolvers-types.js";

/** Fields of AccessToken, derived from the ServedToken domain record. */
export const AccessToken: AccessTokenResolvers = {
  accessToken: (served) => served.token.accessToken,
  tokenType: (served) => served.token.tokenType,
  // Whole seconds, rounded down: a caller must never believe a token lives longer than it does.
  expiresIn: (served) => Math.max(0, Math.floor((served.token.expiresAtMs - served.servedAtMs) / 1000)),
  expiresAt: (served) => new Date(served.token.expiresAtMs),
  issuedAt: (served) => new Date(served.token.issuedAtMs),
  fromCache: (served) => served.source === "cache" || served.source === "stale",
  stale: (served) => served.source === "stale",
  scopes: (served) => [...served.token.scopes],
  defaultStorage: (served) => served.token.defaultStorage,
};
