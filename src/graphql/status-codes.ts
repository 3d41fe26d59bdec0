/**
 * The GraphQL-over-HTTP spec's status rule for refused documents, in one place: the answer's media
 * type follows the client's Accept header, and so does the status of a document that failed parsing
 * or validation. https://graphql.github.io/graphql-over-http/draft/#sec-Status-Codes
 *
 * Only refusals are negotiated here (a served answer keeps Apollo's own choice), so the hit path
 * never parses an Accept header twice.
 */
import Negotiator from "negotiator";

/** The media type of a single GraphQL answer. */
export type AnswerMediaType = "application/json" | "application/graphql-response+json";

// Apollo Server's own list and order (ApolloServer.ts, chooseContentTypeForSingleResultResponse), so
// the status chosen here always matches the content type Apollo writes.
const OFFERED = [
  "application/json; charset=utf-8",
  "application/graphql-response+json; charset=utf-8",
  "application/json; callbackSpec=1.0; charset=utf-8",
];

/** The media type Apollo Server answers with for this Accept header (no header: application/json). */
export function answerMediaType(accept: string | undefined): AnswerMediaType {
  if (accept === undefined || accept === "") return "application/json";
  const preferred = new Negotiator({ headers: { accept } }).mediaType(OFFERED);
  return preferred?.startsWith("application/graphql-response+json")
    ? "application/graphql-response+json"
    : "application/json";
}

/**
 * The status of an answer whose document was refused (parse, validation, operation resolution or
 * variable coercion: Apollo's 400s). The spec: a server SHOULD answer a well-formed request with 200
 * when the client accepts application/json (legacy clients and every gateway read errors only from a
 * 2xx body: Apollo Gateway and Router turn a 400 into INTERNAL_SERVER_ERROR and hide the code), and
 * with 4xx for application/graphql-response+json, where the status carries the meaning.
 */
export function refusedDocumentStatus(accept: string | undefined): 200 | 400 {
  return answerMediaType(accept) === "application/json" ? 200 : 400;
}
