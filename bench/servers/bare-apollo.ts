/**
 * Scenario (b), the framework baseline: Apollo Server 5 with the subgraph's own SDL and default
 * options, answering the accessToken mutation with a constant, on the same node:http integration as
 * the service (read body, JSON.parse, HeaderMap, executeHTTPGraphQLRequest, write) and nothing else.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { ApolloServer, HeaderMap } from "@apollo/server";
import { buildSubgraphSchema, type GraphQLResolverMap } from "@apollo/subgraph";
import { DateTimeResolver } from "graphql-scalars";
import { gql } from "graphql-tag";

const schemaDirectory = process.env.BENCH_SCHEMA_DIR ?? "schema";
const typeDefs = gql(
  readdirSync(schemaDirectory)
    .filter((file) => file.endsWith(".graphql"))
    .sort()
    .map((file) => readFileSync(join(schemaDirectory, file), "utf8"))
    .join("\n"),
);

const token = {
  accessToken: process.env.BENCH_TOKEN ?? "token",
  tokenType: "Bearer",
  expiresIn: 3599,
  expiresAt: new Date("2026-11-25T13:00:00.000Z"),
  issuedAt: new Date("2026-11-25T12:00:00.000Z"),
  fromCache: true,
  scopes: ["api.billing", "api.identity", "api.products", "api.storage"],
  defaultStorage: "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
};
const resolvers: GraphQLResolverMap<unknown> = {
  DateTime: DateTimeResolver,
  Mutation: { accessToken: () => token },
};

const apollo = new ApolloServer({ schema: buildSubgraphSchema([{ typeDefs, resolvers }]) });
await apollo.start();

const server = createServer((request, response) => {
  if (request.method === "GET" && request.url === "/readyz") {
    response.writeHead(200).end("ready");
    return;
  }
  const chunks: Buffer[] = [];
  request.on("data", (chunk: Buffer) => chunks.push(chunk));
  request.on("end", () => {
    void (async () => {
      const headers = new HeaderMap();
      for (const [name, value] of Object.entries(request.headers)) {
        if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
      }
      const url = request.url ?? "/";
      const queryStart = url.indexOf("?");
      const result = await apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: {
          method: request.method ?? "GET",
          headers,
          search: queryStart === -1 ? "" : url.slice(queryStart),
          body: JSON.parse(Buffer.concat(chunks).toString("utf8")),
        },
        context: async () => ({}),
      });
      if (result.body.kind !== "complete") throw new Error("incremental delivery is not used here");
      const replyHeaders: Record<string, string> = {};
      for (const [name, value] of result.headers) replyHeaders[name] = value;
      response.writeHead(result.status ?? 200, replyHeaders);
      response.end(result.body.string);
    })();
  });
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => {
    void apollo.stop().then(() => process.exit(0));
  });
  server.closeAllConnections();
});
