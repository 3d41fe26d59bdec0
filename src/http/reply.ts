import { type ClientErrorCode, OutcomeLabel } from "../errors.js";

/** A finished answer for the router to write: status, headers, body and the outcome for logs. */
export interface Reply {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  /** undefined when the handler already streamed the body itself. */
  readonly body: string | undefined;
  /** ok, or the coded reason, for the request log line and metrics. */
  readonly outcome: string;
}

/** A GraphQL-shaped error answer for refusals that happen before Apollo sees the request. */
export function jsonError(status: number, code: ClientErrorCode, message: string): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    body: JSON.stringify({ errors: [{ message, extensions: { code } }] }),
    outcome: status === 413 ? OutcomeLabel.PAYLOAD_TOO_LARGE : code,
  };
}

/** A small JSON answer. */
export function json(status: number, value: unknown, outcome: string = OutcomeLabel.OK): Reply {
  return {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    body: JSON.stringify(value),
    outcome,
  };
}
