/**
 * `npm run schema:print`: writes this subgraph's SDL to stdout, for `rover subgraph publish` and
 * `rover supergraph compose`. Reads no environment and starts nothing.
 */
import { printSubgraphSchema } from "@apollo/subgraph";
import { buildSchema } from "./schema.js";

process.stdout.write(`${printSubgraphSchema(buildSchema())}\n`);
