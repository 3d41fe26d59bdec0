import type { IncomingMessage, ServerResponse } from "node:http";
import { type ApolloServer, HeaderMap } from "@apollo/server";
import type { Context } from "../context.js";
import { OutcomeLabel, RequestCode } from "../errors.js";
import { answerMediaType } from "../graphql-over-http.js";
import type { OutcomeReport, ServerContext } from "./outcome.js";
import { RefusalCache } from "./refusal-cache.js";
import { jsonError, type Reply } from "./reply.js";
import { readBody } from "./request-body.js";

export interface GraphQLHandlerOptions {
  readonly apollo: ApolloServer<ServerContext>;
  readonly bodyLimitBytes: number;
  readonly makeContext: (request: { requestId: string; clientAddress: string }) => Context;
}

/** Per-request facts the router already knows. */
export interface RequestFacts {
  readonly requestId: string;
  readonly clientAddress: string;
  readonly report: OutcomeReport;
}

/**
 * Apollo Server on plain node:http: the same path Apollo's standalone server takes, without Express or
 * body-parser, and with this service's own body limit, UTF-8 check and no-store header.
 */
export function graphqlHandler(options: GraphQLHandlerOptions) {
  const { apollo, bodyLimitBytes, makeContext } = options;
  const refusals = new RefusalCache();
  return async (request: IncomingMessage, response: ServerResponse, facts: RequestFacts): Promise<Reply> => {
    const method = (request.method ?? "GET").toUpperCase();
    let body: unknown;
    if (method === "POST") {
      const text = await readBody(request, bodyLimitBytes);
      if (text === "too-large")
        return jsonError(
          413,
          RequestCode.BAD_REQUEST,
          `Request body is larger than ${bodyLimitBytes} bytes.`,
        );
      if (text === "invalid-utf8")
        return jsonError(400, RequestCode.BAD_REQUEST, "Request body is not valid UTF-8.");
      if (text === "aborted") return { status: 400, headers: {}, body: "", outcome: OutcomeLabel.ABORTED };
      if (isJson(request.headers["content-type"])) {
        try {
          body = JSON.parse(text);
        } catch {
          return jsonError(400, RequestCode.BAD_REQUEST, "Request body is not valid JSON.");
        }
      } else {
        body = text;
      }
    }
    // A document refused before is refused again without parsing it (JSON bodies only: they pass
    // CSRF prevention by their content type, so skipping Apollo skips no other check).
    const refusable =
      typeof body === "object" && body !== null ? refusableDocument(body, request.headers.accept) : undefined;
    if (refusable !== undefined) {
      const known = refusals.lookup(refusable);
      if (known !== undefined) return known;
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search: queryStart === -1 ? "" : url.slice(queryStart), body },
      context: async () => ({ ...makeContext(facts), report: facts.report }),
    });
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of result.headers) replyHeaders[name] = value;
    // Token answers must never be stored by a browser or proxy.
    replyHeaders["cache-control"] = "no-store";
    const status = result.status ?? 200;
    if (result.body.kind === "complete") {
      const reply = {
        status,
        headers: replyHeaders,
        body: result.body.string,
        outcome: outcomeFor(status, facts.report),
      };
      if (refusable !== undefined && facts.report.documentRefused === true)
        refusals.remember(refusable, reply);
      return reply;
    } // Incremental delivery is not used by this schema, but stream it faithfully if Apollo chooses to.
    response.writeHead(status, replyHeaders);
    for await (const chunk of result.body.asyncIterator) response.write(chunk);
    response.end();
    return { status, headers: {}, body: undefined, outcome: outcomeFor(status, facts.report) };
  };
}

/** What a refusal depends on: the document and the kind of answer asked for; undefined if not cacheable. */
function refusableDocument(body: object, accept: string | undefined): string | undefined {
  // Persisted-query requests are left to Apollo: their document is not in the body.
  if (!("query" in body) || typeof body.query !== "string" || "extensions" in body) return undefined;
  // The refusal's status and content type follow Accept (graphql-over-http.ts): one entry per kind.
  return `${answerMediaType(accept)}\n${body.query}`;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase();
  return type === "application/json" || type === "application/graphql-response+json";
}

function outcomeFor(status: number, report: OutcomeReport): string {
  if (report.outcome !== "") return report.outcome;
  return status === 200
    ? OutcomeLabel.OK
    : status === 405
      ? OutcomeLabel.METHOD_NOT_ALLOWED
      : RequestCode.BAD_REQUEST;
}
