import type { TrustedDocumentList } from "../../config/index.js";
import { PerimeterCode } from "../../errors.js";
import type { GraphQLParams } from "./graphql-params.js";

/** A trusted document to run, or the code of the refusal. */
export type DocumentDecision =
  | { readonly run: "as-sent" }
  | { readonly run: "listed"; readonly document: string }
  | {
      readonly refused:
        | typeof PerimeterCode.PERSISTED_QUERY_NOT_IN_LIST
        | typeof PerimeterCode.QUERY_NOT_IN_SAFELIST;
    };

/**
 * Trusted documents: an operation runs when it is named by a listed id (`documentId`, or Apollo's
 * `extensions.persistedQuery.sha256Hash`), or when its text is, character for character, a listed
 * document. An id with a different text is refused: the text is what would run. A request with
 * neither an id nor a text is not GraphQL; it is left to Apollo, which refuses it.
 */
export function trustedDocumentCheck(list: TrustedDocumentList): (params: GraphQLParams) => DocumentDecision {
  return (params) => {
    const id = params.documentId ?? persistedQueryId(params.extensions);
    if (id !== undefined) {
      const document = list.byId.get(id);
      if (document === undefined) return { refused: PerimeterCode.PERSISTED_QUERY_NOT_IN_LIST };
      if (params.query !== undefined && params.query !== document)
        return { refused: PerimeterCode.QUERY_NOT_IN_SAFELIST };
      return { run: "listed", document };
    }
    if (params.query === undefined || list.documents.has(params.query)) return { run: "as-sent" };
    return { refused: PerimeterCode.QUERY_NOT_IN_SAFELIST };
  };
}

function persistedQueryId(extensions: GraphQLParams["extensions"]): string | undefined {
  const persisted = extensions?.persistedQuery;
  if (typeof persisted !== "object" || persisted === null || !("sha256Hash" in persisted)) return undefined;
  return typeof persisted.sha256Hash === "string" ? persisted.sha256Hash : undefined;
}
