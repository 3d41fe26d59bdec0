/**
 * `npm run -s schema:print`: writes this subgraph's SDL to stdout, for `rover subgraph publish` and
 * `rover supergraph compose`. Reads no environment and starts nothing.
 *
 * It prints exactly what the running service serves at `_service { sdl }` (the same query against the
 * same schema), so what is published and what a router reads can never drift: printing the runtime
 * schema instead would add descriptions that resolvers (graphql-scalars' DateTime) bring along.
 */
import { graphql } from "graphql";
import { buildSchema } from "./schema.js";

const result = await graphql({ schema: buildSchema(), source: "{ _service { sdl } }" });
const sdl = (result.data?._service as { sdl?: unknown } | undefined)?.sdl;
if (typeof sdl !== "string") {
  process.stderr.write("Could not read _service { sdl } from the subgraph schema\n");
  process.exit(1);
}
process.stdout.write(sdl.endsWith("\n") ? sdl : `${sdl}\n`);
