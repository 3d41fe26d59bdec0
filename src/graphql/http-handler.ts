import type { IncomingMessage } from "node:http";
import { type ApolloServer, HeaderMap } from "@apollo/server";
import { type Outcome, OutcomeLabel, RequestCode } from "../errors.js";
import type { BodyIntake } from "../http/body-intake.js";
import { type Handler, jsonError, type Reply, type RequestFacts } from "../http/exchange.js";
import { bodyRefusal, readBody } from "../http/request-body.js";
import type { Context } from "./context.js";
import type { OperationOutcome, ServerContext } from "./outcome.js";
import type { Admit } from "./perimeter/admission.js";
import { RefusalCache } from "./refusal-cache.js";
import { refusedDocumentStatus } from "./status-codes.js";

export interface GraphQLHandlerOptions {
  readonly apollo: ApolloServer<ServerContext>;
  readonly bodyLimitBytes: number;
  /** The public port's account of bodies being received: their memory budget and minimum rate. */
  readonly bodies: BodyIntake;
  readonly makeContext: (facts: RequestFacts) => Context;
  /** The perimeter (router-only access, trusted documents), when configured: decides before Apollo. */
  readonly admit?: Admit;
  /** Sent with the page a browser gets at /graphql (its Content-Security-Policy). */
  readonly pageHeaders: Readonly<Record<string, string>>;
}

/**
 * Apollo Server on plain node:http: the same path Apollo's standalone server takes, without Express or
 * body-parser, and with this service's own body limit, UTF-8 check, no-store header and the spec's
 * status for refused documents.
 */
export function graphqlHandler(options: GraphQLHandlerOptions): Handler {
  const { apollo, bodyLimitBytes, bodies, makeContext, admit, pageHeaders } = options;
  const refusals = new RefusalCache();
  return async (request, response, facts) => {
    const method = (request.method ?? "GET").toUpperCase();
    const url = request.url ?? "/";
    const queryStart = url.indexOf("?");
    let search = queryStart === -1 ? "" : url.slice(queryStart);
    let body: unknown;
    if (method === "POST") {
      const parsed = await readJsonOrText(request, bodyLimitBytes, bodies);
      if (parsed.refused !== undefined) return parsed.refused;
      body = parsed.body;
    }
    if (admit !== undefined) {
      const admission = admit(request, { method, body, search });
      if ("refused" in admission) return admission.refused;
      ({ body, search } = admission.parts);
    }
    const accept = request.headers.accept;
    // A document refused before is refused again without parsing it (JSON bodies only: they pass
    // CSRF prevention by their content type, so skipping Apollo skips no other check).
    const refusable = typeof body === "object" && body !== null ? refusableDocument(body) : undefined;
    if (refusable !== undefined) {
      const known = refusals.lookup(refusable, accept);
      if (known !== undefined) return known;
    }
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(", ") : value);
    }
    const outcome: OperationOutcome = { code: undefined, documentRefused: false };
    const result = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method, headers, search, body },
      context: async () => ({ ...makeContext(facts), outcome }),
    });
    const replyHeaders: Record<string, string> = {};
    for (const [name, value] of result.headers) replyHeaders[name] = value;
    // Token answers must never be stored by a browser or proxy.
    replyHeaders["cache-control"] = "no-store";
    // Apollo's one HTML answer is the landing page (plugins/landing-page.ts).
    if (replyHeaders["content-type"]?.startsWith("text/html")) Object.assign(replyHeaders, pageHeaders);
    // Apollo answers every refused document with 400; a request that is not GraphQL at all
    // (BAD_REQUEST: no query, variables not a map, CSRF) keeps it. Refused before Apollo's pipeline ran,
    // a request has no code and keeps Apollo's status too.
    let status = result.status ?? 200;
    if (status === 400 && outcome.code !== undefined && outcome.code !== RequestCode.BAD_REQUEST)
      status = refusedDocumentStatus(accept);
    if (result.body.kind === "complete") {
      const reply = {
        status,
        headers: replyHeaders,
        body: result.body.string,
        outcome: outcomeOf(status, outcome),
      };
      if (refusable !== undefined && outcome.documentRefused) refusals.remember(refusable, accept, reply);
      return reply;
    }
    // Incremental delivery is not used by this schema, but stream it faithfully if Apollo chooses to.
    response.writeHead(status, replyHeaders);
    for await (const chunk of result.body.asyncIterator) response.write(chunk);
    response.end();
    return { status, headers: {}, body: undefined, outcome: outcomeOf(status, outcome) };
  };
}

/** A POST body as parsed JSON (or raw text for another content type), or the edge's refusal. */
async function readJsonOrText(
  request: IncomingMessage,
  limit: number,
  bodies: BodyIntake,
): Promise<{ readonly body: unknown; readonly refused?: undefined } | { readonly refused: Reply }> {
  const read = await readBody(request, limit, bodies);
  if (read.problem !== undefined) return { refused: bodyRefusal(read.problem, limit) };
  const { text } = read;
  if (!isJson(request.headers["content-type"])) return { body: text };
  try {
    return { body: JSON.parse(text) };
  } catch {
    return { refused: jsonError(400, RequestCode.BAD_REQUEST, "Request body is not valid JSON.") };
  }
}

/** The document of a request whose refusal may be remembered; undefined if not cacheable. */
function refusableDocument(body: object): string | undefined {
  // Persisted-query requests are left to Apollo: their document is not in the body.
  if (!("query" in body) || typeof body.query !== "string" || "extensions" in body) return undefined;
  return body.query;
}

function isJson(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(";")[0]?.trim().toLowerCase();
  return type === "application/json" || type === "application/graphql-response+json";
}

function outcomeOf(status: number, outcome: OperationOutcome): Outcome {
  if (outcome.code !== undefined) return outcome.code;
  return status === 200
    ? OutcomeLabel.OK
    : status === 405
      ? OutcomeLabel.METHOD_NOT_ALLOWED
      : RequestCode.BAD_REQUEST;
}
