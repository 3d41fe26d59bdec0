import type { MutationResolvers } from "../__generated__/resolvers-types.js";
import { locatedAt } from "../errors.js";
import { parseTokenRequest } from "./token-arguments.js";

/** Root mutations: argument validation, then the per-request token loader. */
export const Mutation: MutationResolvers = {
  accessToken: async (_parent, args, context, info) => {
    try {
      return await context.tokens.load(parseTokenRequest(args, context.keyer));
    } catch (error) {
      throw locatedAt(error, info);
    }
  },
};
