import type { MutationResolvers } from "../__generated__/resolvers-types.js";
import { parseTokenRequest } from "../tokens/token-request.js";

/** Root mutations: argument validation, then the per-request token loader. */
export const Mutation: MutationResolvers = {
  accessToken: (_parent, args, context) => context.tokens.load(parseTokenRequest(args)),
};
