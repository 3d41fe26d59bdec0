/**
 * The one GraphQL client of the tests, over real HTTP: operations through a real client
 * (graphql-request), operations as plain JSON POSTs when a test needs the raw response (headers,
 * text, a request id), and any other request for what a client cannot send. GraphQL errors come
 * back as data, never as throws.
 */
import assert from "node:assert/strict";
import { ClientError, type GraphQLClient } from "graphql-request";

export const ACCESS_TOKEN_MUTATION = /* GraphQL */ `
  mutation AccessToken($clientId: String!, $clientSecret: String!, $minValidity: Int, $forceRefresh: Boolean) {
    accessToken(clientId: $clientId, clientSecret: $clientSecret, minValidity: $minValidity, forceRefresh: $forceRefresh) {
      accessToken
      tokenType
      expiresIn
      expiresAt
      issuedAt
      fromCache
      stale
      scopes
      defaultStorage
    }
  }
`;

export interface AccessTokenFields {
  accessToken: string;
  tokenType: string;
  expiresIn: number;
  expiresAt: string;
  issuedAt: string;
  fromCache: boolean;
  stale: boolean;
  scopes: string[];
  defaultStorage: string | null;
}

export interface GraphQLErrorShape {
  message: string;
  extensions?: { code?: string; retryAfter?: number; [key: string]: unknown };
  path?: (string | number)[];
}

export interface ExecuteResult<T> {
  data: T | null | undefined;
  errors: GraphQLErrorShape[] | undefined;
  status: number;
}

/** An HTTP answer read as text. */
export interface Reply {
  status: number;
  text: string;
  headers: Headers;
}

/** A GraphQL answer read from a raw response: the text as sent, and its data and errors. */
export interface GraphQLReply<T, E = GraphQLErrorShape> extends Reply {
  data: T | null | undefined;
  errors: E[] | undefined;
}

/** Runs an operation with the real GraphQL client; `body` is the answer as JSON text. */
export async function executeOperation<T>(
  client: GraphQLClient,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<ExecuteResult<T> & { body: string }> {
  try {
    const result = await client.rawRequest<T>(query, variables);
    return {
      data: result.data,
      errors: result.errors as GraphQLErrorShape[] | undefined,
      status: result.status,
      body: JSON.stringify(result),
    };
  } catch (error) {
    if (error instanceof ClientError) {
      return {
        data: error.response.data as T | null | undefined,
        errors: error.response.errors as GraphQLErrorShape[] | undefined,
        status: error.response.status,
        body: JSON.stringify(error.response),
      };
    }
    throw error;
  }
}

/** Any HTTP request, its answer read whole as text. */
export async function send(url: string, init: RequestInit = {}): Promise<Reply> {
  const response = await fetch(url, init);
  const text = await response.text();
  return { status: response.status, text, headers: response.headers };
}

/** An operation as a plain JSON POST, for tests that read the raw response. */
export function postOperation(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ query, variables }),
  });
}

/** Reads a GraphQL answer whole: its text, then its data and errors (a body that is not JSON throws). */
export async function readAnswer<T, E = GraphQLErrorShape>(response: Response): Promise<GraphQLReply<T, E>> {
  const text = await response.text();
  const body = JSON.parse(text) as { data?: T | null; errors?: E[] };
  return { status: response.status, text, headers: response.headers, data: body.data, errors: body.errors };
}

/** The token of a successful accessToken answer; fails the test on any GraphQL error. */
export function served(result: ExecuteResult<{ accessToken: AccessTokenFields }>): AccessTokenFields {
  assert.equal(result.errors, undefined, `unexpected errors: ${JSON.stringify(result.errors)}`);
  const token = result.data?.accessToken;
  assert.ok(token, "no accessToken in the answer");
  return token;
}
