// A token with graphql-request, typed by the generated document. On failure, log the codes: never
// the error itself, whose message (and `request`) quotes the variables, clientSecret included.
import { AccessTokenDocument } from "aspose-token-subgraph/client";
import { ClientError, GraphQLClient } from "graphql-request";

const client = new GraphQLClient(process.env.TOKEN_SERVICE_URL ?? "http://localhost:4000/graphql");

try {
  const { accessToken } = await client.request(AccessTokenDocument, {
    clientId: process.env.ASPOSE_CLIENT_ID ?? "",
    clientSecret: process.env.ASPOSE_CLIENT_SECRET ?? "",
  });
  console.log(`${accessToken.tokenType} token valid for ${accessToken.expiresIn} s`);
  // fetch(asposeUrl, { headers: { authorization: `Bearer ${accessToken.accessToken}` } })
} catch (error) {
  if (error instanceof ClientError) {
    const codes = error.response.errors?.map((e) => e.extensions?.code) ?? [];
    console.error(`token refused: ${codes.join(", ") || `HTTP ${error.response.status}`}`);
  } else {
    console.error(`token service unreachable: ${error instanceof Error ? error.name : "unknown error"}`);
  }
  process.exitCode = 1;
}
