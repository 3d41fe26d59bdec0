/**
 * accessToken requests from a chosen loopback address, optionally forwarding another one (through a
 * trusted proxy): what the lockout and guess-budget tests need to play many clients from one machine.
 * Sent as plain POSTs, so the answer's code, retryAfter and raw text are all at hand.
 */
import { CLIENT_ID, CLIENT_SECRET, type Harness, post } from "./harness.js";

/** What one request got: the first error's code and retryAfter, or the token. */
export interface Answer {
  readonly code: string | undefined;
  readonly retryAfter: number | undefined;
  readonly token: string | undefined;
  readonly text: string;
}

export interface Ask {
  readonly clientId?: string;
  readonly clientSecret?: string;
  /** The loopback address the connection comes from (default 127.0.0.1). */
  readonly from?: string;
  /** An X-Forwarded-For value, for a service that trusts `from` as a proxy. */
  readonly forwardedFor?: string;
  readonly forceRefresh?: boolean;
}

const QUERY = /* GraphQL */ `
  mutation ($clientId: String!, $clientSecret: String!, $forceRefresh: Boolean) {
    accessToken(clientId: $clientId, clientSecret: $clientSecret, forceRefresh: $forceRefresh) {
      accessToken
    }
  }
`;

/** One accessToken request from `options.from`, for the credentials asked (the harness's by default). */
export async function ask(harness: Harness, options: Ask = {}): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.forwardedFor !== undefined) headers["x-forwarded-for"] = options.forwardedFor;
  const variables = {
    clientId: options.clientId ?? CLIENT_ID,
    clientSecret: options.clientSecret ?? CLIENT_SECRET,
    forceRefresh: options.forceRefresh ?? false,
  };
  const reply = await post(harness, JSON.stringify({ query: QUERY, variables }), headers, "/graphql", {
    localAddress: options.from ?? "127.0.0.1",
  });
  const body = JSON.parse(reply.text) as {
    data?: { accessToken?: { accessToken?: string } } | null;
    errors?: { extensions?: { code?: string; retryAfter?: number } }[];
  };
  const error = body.errors?.[0];
  return {
    code: error?.extensions?.code,
    retryAfter: error?.extensions?.retryAfter,
    token: body.data?.accessToken?.accessToken ?? undefined,
    text: reply.text,
  };
}
