import { DateTimeResolver } from "graphql-scalars";
import type { Resolvers } from "../__generated__/resolvers-types.js";
import { AccessToken } from "./AccessToken.js";
import { Mutation } from "./Mutation.js";
import { Query } from "./Query.js";

/** Every resolver of the subgraph, one file per GraphQL type. */
export const resolvers: Resolvers = {
  DateTime: DateTimeResolver,
  Query,
  Mutation,
  AccessToken,
};
