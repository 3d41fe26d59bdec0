/**
 * The GraphQL-over-HTTP parameters of a request, read the way Apollo Server reads them: a POST's JSON
 * body, or a GET's query string (`query`, `variables` and `extensions`, the last two as JSON). The
 * perimeter reads them before Apollo does, and may hand Apollo a listed document in place of an id.
 */

/** What the perimeter looks at: the operation's text, its variables and extensions, an id. */
export interface GraphQLParams {
  readonly query: string | undefined;
  readonly variables: unknown;
  readonly extensions: Readonly<Record<string, unknown>> | undefined;
  /** The GraphQL-over-HTTP persisted-documents proposal's id (Hive, GraphQL Code Generator). */
  readonly documentId: string | undefined;
}

/** The request as the GraphQL handler holds it: the parsed POST body, or the GET query string. */
export interface GraphQLRequestParts {
  readonly method: string;
  readonly body: unknown;
  /** `?…` or empty. */
  readonly search: string;
}

/** The parameters of a request; a part that is not well-formed reads as absent (Apollo refuses it). */
export function paramsOf(parts: GraphQLRequestParts): GraphQLParams {
  if (parts.method === "GET") {
    const search = new URLSearchParams(parts.search);
    return {
      query: search.get("query") ?? undefined,
      variables: jsonOrUndefined(search.get("variables")),
      extensions: objectOrUndefined(jsonOrUndefined(search.get("extensions"))),
      documentId: search.get("documentId") ?? undefined,
    };
  }
  const body = objectOrUndefined(parts.body);
  return {
    query: typeof body?.query === "string" ? body.query : undefined,
    variables: body?.variables,
    extensions: objectOrUndefined(body?.extensions),
    documentId: typeof body?.documentId === "string" ? body.documentId : undefined,
  };
}

/**
 * The same request with `query` as the operation's text, and without the id that named it: Apollo
 * would otherwise take a persisted-query hash for an automatic persisted query and check it against
 * the text.
 */
export function withDocument(parts: GraphQLRequestParts, query: string): GraphQLRequestParts {
  if (parts.method === "GET") {
    const search = new URLSearchParams(parts.search);
    search.set("query", query);
    search.delete("documentId");
    const extensions = objectOrUndefined(jsonOrUndefined(search.get("extensions")));
    if (extensions !== undefined) {
      const { persistedQuery: _id, ...rest } = extensions;
      search.set("extensions", JSON.stringify(rest));
    }
    return { ...parts, search: `?${search.toString()}` };
  }
  const { documentId: _documentId, extensions, ...body } = objectOrUndefined(parts.body) ?? {};
  const { persistedQuery: _id, ...rest } = objectOrUndefined(extensions) ?? {};
  return { ...parts, body: { ...body, query, extensions: rest } };
}

function jsonOrUndefined(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function objectOrUndefined(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Readonly<Record<string, unknown>>) // a JSON object: its keys are strings
    : undefined;
}
