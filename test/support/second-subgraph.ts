/**
 * A second, tiny Federation 2 subgraph for composition tests: `Query.asposeRegions`, the Aspose Cloud
 * API hosts a client may talk to. It exists so the supergraph has more than one subgraph and the
 * gateway must plan across them.
 */
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { buildSubgraphSchema } from "@apollo/subgraph";
import type { DocumentNode } from "graphql";
import { gql } from "graphql-tag";

/** The regions subgraph's SDL. */
export const REGIONS_TYPE_DEFS: DocumentNode = gql`
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])

  type Query {
    "Aspose Cloud API hosts, e.g. for picking the token endpoint."
    asposeRegions: [String!]!
  }
`;

/** What `asposeRegions` answers. */
export const ASPOSE_REGIONS: readonly string[] = ["api.aspose.cloud", "id.aspose.cloud"];

export interface RegionsSubgraph {
  readonly name: "regions";
  readonly url: string;
  readonly typeDefs: DocumentNode;
  /** The headers of the last request it received, as a gateway forwarded them. */
  readonly lastHeaders: () => Readonly<Record<string, string | string[] | undefined>>;
  stop(): Promise<void>;
}

// Apollo Server's own logs would only add noise to the test output.
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Starts the regions subgraph on an ephemeral loopback port. */
export async function startRegionsSubgraph(): Promise<RegionsSubgraph> {
  const server = new ApolloServer({
    schema: buildSubgraphSchema([
      { typeDefs: REGIONS_TYPE_DEFS, resolvers: { Query: { asposeRegions: () => [...ASPOSE_REGIONS] } } },
    ]),
    logger: quiet,
  });
  let headers: Record<string, string | string[] | undefined> = {};
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: "127.0.0.1" },
    context: async ({ req }) => {
      headers = { ...req.headers };
      return {};
    },
  });
  return {
    name: "regions",
    url,
    typeDefs: REGIONS_TYPE_DEFS,
    lastHeaders: () => headers,
    stop: () => server.stop(),
  };
}
