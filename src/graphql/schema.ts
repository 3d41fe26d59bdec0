import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildSubgraphSchema, type GraphQLResolverMap } from "@apollo/subgraph";
import type { DocumentNode, GraphQLSchema } from "graphql";
import { gql } from "graphql-tag";
import { resolvers } from "../resolvers/index.js";

// The SDL lives in schema/ at the package root; this file runs from src/graphql/ (tsx) or
// dist/src/graphql/ (build).
function schemaDirectory(): string {
  for (const relative of ["../../schema", "../../../schema"]) {
    const candidate = fileURLToPath(new URL(relative, import.meta.url));
    if (existsSync(join(candidate, "token.graphql"))) return candidate;
  }
  throw new Error("schema/ directory not found next to the service");
}

/** The SDL of schema/*.graphql, the source of truth for the runtime schema and the resolver types. */
function loadTypeDefs(): DocumentNode {
  const directory = schemaDirectory();
  const files = readdirSync(directory)
    .filter((file) => file.endsWith(".graphql"))
    .sort();
  return gql(files.map((file) => readFileSync(join(directory, file), "utf8")).join("\n"));
}

/** The executable Federation 2 subgraph schema (serves `_service { sdl }`). */
export function buildSchema(): GraphQLSchema {
  return buildSubgraphSchema([
    {
      typeDefs: loadTypeDefs(),
      // Codegen's Resolvers type is stricter than @apollo/subgraph's untyped map; the shapes agree.
      resolvers: resolvers as GraphQLResolverMap<unknown>,
    },
  ]);
}
