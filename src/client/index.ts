/**
 * What a TypeScript client of this service imports (`aspose-token-subgraph/client`): the mutation as a
 * TypedDocumentNode, generated from the schema and src/client/access-token.graphql, so GraphQL clients
 * (graphql-request, Apollo Client, urql) type its variables and result; and the codes its errors carry.
 * The examples in examples/ use it.
 */
export {
  AccessTokenDocument,
  type AccessTokenErrorCode,
  type AccessTokenMutation,
  type AccessTokenMutationVariables,
} from "../__generated__/client.js";
