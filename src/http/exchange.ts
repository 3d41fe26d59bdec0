/**
 * What passes between the HTTP edge and whatever answers a request: the facts the edge knows, handed
 * down, and the reply, handed back up. The reply is the only way a request's outcome travels up to
 * the access log and the request metrics; nothing below writes into an object the edge reads later.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { type ClientErrorCode, type Outcome, OutcomeLabel } from "../errors.js";

/** What the edge knows of a request before any handler runs. */
export interface RequestFacts {
  readonly requestId: string;
  /** The caller's address: the peer, or X-Forwarded-For's entry from a trusted proxy. */
  readonly clientAddress: string;
}

/** A finished answer for the edge to write: status, headers, body and the outcome for logs. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** undefined when the handler already streamed the body itself; bytes for an already encoded file. */
  readonly body: string | Buffer | undefined;
  /** ok, or the coded reason, for the request log line and metrics. */
  readonly outcome: Outcome;
}

/** Answers one request, already identified by its path (without the query string). */
export type Route = (
  request: IncomingMessage,
  response: ServerResponse,
  facts: RequestFacts,
  path: string,
) => Promise<Reply>;

/** Answers the requests of one path. */
export type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  facts: RequestFacts,
) => Promise<Reply>;

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };

/** A GraphQL-shaped error answer for refusals that happen before Apollo sees the request. */
export function jsonError(status: number, code: ClientErrorCode, message: string): Reply {
  return {
    status,
    headers: JSON_HEADERS,
    body: JSON.stringify({ errors: [{ message, extensions: { code } }] }),
    outcome: status === 413 ? OutcomeLabel.PAYLOAD_TOO_LARGE : code,
  };
}

/** A small JSON answer. */
export function json(status: number, value: unknown, outcome: Outcome = OutcomeLabel.OK): Reply {
  return { status, headers: JSON_HEADERS, body: JSON.stringify(value), outcome };
}

/**
 * A refusal after which the connection cannot carry another request (its body was not read to the
 * end): the answer says so, with `headers` besides, and Node closes the connection once it is out,
 * instead of a keep-alive client's next request meeting a destroyed socket.
 */
export function closing(reply: Reply, headers: Readonly<Record<string, string>> = {}): Reply {
  return { ...reply, headers: { ...reply.headers, ...headers, connection: "close" } };
}
