// A token with Apollo Client 4, typed by the generated document. On failure, log the codes; the token
// is not kept in Apollo's cache (no-cache): it is a secret, not application state.
import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import { CombinedGraphQLErrors, ServerError } from "@apollo/client/errors";
import { AccessTokenDocument } from "aspose-token-subgraph/client";

const client = new ApolloClient({
  link: new HttpLink({ uri: process.env.TOKEN_SERVICE_URL ?? "http://localhost:4000/graphql" }),
  cache: new InMemoryCache(),
});

try {
  const { data } = await client.mutate({
    mutation: AccessTokenDocument,
    variables: {
      clientId: process.env.ASPOSE_CLIENT_ID ?? "",
      clientSecret: process.env.ASPOSE_CLIENT_SECRET ?? "",
    },
    fetchPolicy: "no-cache",
  });
  const token = data?.accessToken;
  console.log(`${token?.tokenType} token valid for ${token?.expiresIn} s`);
  // fetch(asposeUrl, { headers: { authorization: `Bearer ${token?.accessToken}` } })
} catch (error) {
  if (CombinedGraphQLErrors.is(error)) {
    console.error(`token refused: ${error.errors.map((e) => e.extensions?.code).join(", ")}`);
  } else if (ServerError.is(error)) {
    console.error(`token refused: HTTP ${error.statusCode}`);
  } else {
    console.error(`token service unreachable: ${error instanceof Error ? error.name : "unknown error"}`);
  }
  process.exitCode = 1;
}
