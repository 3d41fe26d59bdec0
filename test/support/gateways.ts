/**
 * The two gateways a federated client meets, run in-process on loopback over real HTTP: Apollo Gateway
 * (on Apollo Server's standalone server) and Hive Gateway's runtime (on node:http). Both serve one
 * supergraph composed here with @apollo/composition from this subgraph's `_service { sdl }` and the
 * regions subgraph, as `rover supergraph compose` would.
 */
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { composeServices } from "@apollo/composition";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { createGatewayRuntime, type GatewayConfigSupergraph } from "@graphql-hive/gateway-runtime";
import { parse } from "graphql";
import type { RegionsSubgraph } from "./second-subgraph.js";

/** A gateway listening on loopback. */
export interface RunningGateway {
  readonly name: "apollo-gateway" | "hive-gateway";
  readonly url: string;
  stop(): Promise<void>;
}

// The gateways' own logs would only add noise to the test output.
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** Composes the supergraph from this subgraph (by its served SDL and URL) and the regions subgraph. */
export function composeSupergraph(subgraph: { sdl: string; url: string }, regions: RegionsSubgraph): string {
  const composed = composeServices([
    { name: "aspose-token", typeDefs: parse(subgraph.sdl), url: subgraph.url },
    { name: regions.name, typeDefs: regions.typeDefs, url: regions.url },
  ]);
  if (composed.errors !== undefined) {
    throw new Error(`composition failed: ${composed.errors.map((error) => error.message).join("; ")}`);
  }
  return composed.supergraphSdl;
}

/** Apollo Gateway serving the supergraph, with its default subgraph data source. */
export async function startApolloGateway(supergraphSdl: string): Promise<RunningGateway> {
  const server = new ApolloServer({
    gateway: new ApolloGateway({ supergraphSdl, logger: quiet }),
    logger: quiet,
  });
  const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
  return { name: "apollo-gateway", url, stop: () => server.stop() };
}

/**
 * Hive Gateway's runtime serving the supergraph, as `hive-gateway supergraph` runs it; `config` is
 * the rest of a gateway.config.ts (header propagation, plugins), e.g. gateways/hive's recipe.
 */
export async function startHiveGateway(
  supergraphSdl: string,
  config: Omit<GatewayConfigSupergraph, "supergraph"> = {},
): Promise<RunningGateway> {
  const runtime = createGatewayRuntime({ logging: false, ...config, supergraph: supergraphSdl });
  const server = createServer(runtime);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    name: "hive-gateway",
    url: `http://127.0.0.1:${port}/graphql`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runtime.dispose();
    },
  };
}
