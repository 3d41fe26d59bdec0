/**
 * Apollo Gateway in front of aspose-token-subgraph, as a complete server:
 *
 *   npm run -s schema:print > aspose-token.graphql
 *   rover supergraph compose --config gateways/apollo-router/supergraph.yaml > supergraph.graphql
 *   SUPERGRAPH_FILE=supergraph.graphql ROUTER_SECRET=… npx tsx gateways/apollo-gateway/gateway.ts
 *
 * It serves the supergraph on PORT (4100: the subgraph keeps its own 4000) and sends every request to
 * the aspose-token subgraph with the router's proof the subgraph asks for (ROUTER_SECRET, and a client
 * certificate with SUBGRAPH_CLIENT_CERT_FILE), the client's request id, and X-Forwarded-For with the
 * address the gateway saw appended (list the gateway in the subgraph's TRUSTED_PROXIES). Tested as
 * written by test/federation/gateway-recipes.test.ts, which calls startGateway with such variables.
 */
import { readFileSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import { Agent, request as httpsRequest } from "node:https";
import { fileURLToPath } from "node:url";
import { ApolloGateway, RemoteGraphQLDataSource } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import type { Fetcher } from "@apollo/utils.fetcher";

/** The subgraph's name in the supergraph (supergraph.yaml), whose requests carry the router's proof. */
const ASPOSE_TOKEN_SUBGRAPH = "aspose-token";

/** What the gateway knows of each client request, for the subgraph requests it makes. */
interface GatewayContext {
  readonly requestId: string | undefined;
  readonly forwardedFor: string | undefined;
}

/** The router's proofs, read from the gateway's own environment. */
interface RouterProof {
  /** ROUTER_SECRET, in ROUTER_SECRET_HEADER (the subgraph's default: router-authorization). */
  readonly secret: { readonly header: string; readonly value: string } | undefined;
  /**
   * TLS to the subgraph: the CA of its server certificate and, for its TLS_CLIENT_CA_FILE, the
   * router's client certificate.
   */
  readonly tls:
    | { readonly ca: Buffer | undefined; readonly cert: Buffer | undefined; readonly key: Buffer | undefined }
    | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

function routerProof(env: Env): RouterProof {
  const certFile = env.SUBGRAPH_CLIENT_CERT_FILE;
  const keyFile = env.SUBGRAPH_CLIENT_KEY_FILE;
  const caFile = env.SUBGRAPH_CA_FILE;
  return {
    secret:
      env.ROUTER_SECRET === undefined
        ? undefined
        : { header: env.ROUTER_SECRET_HEADER ?? "router-authorization", value: env.ROUTER_SECRET },
    tls:
      certFile === undefined && caFile === undefined
        ? undefined
        : {
            ca: caFile === undefined ? undefined : readFileSync(caFile),
            cert: certFile === undefined ? undefined : readFileSync(certFile),
            key: keyFile === undefined ? undefined : readFileSync(keyFile),
          },
  };
}

/** The data source of one subgraph: the router's proof for aspose-token, the request's tracing headers for all. */
class SubgraphDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  readonly #proof: RouterProof | undefined;

  constructor(url: string | undefined, proof: RouterProof | undefined) {
    super({ url });
    this.#proof = proof;
    if (proof?.tls !== undefined) this.fetcher = tlsFetcher(proof.tls);
  }

  override willSendRequest({
    request,
    context,
  }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>["willSendRequest"]>>[0]): void {
    const headers = request.http?.headers;
    if (headers === undefined) return;
    if (context.requestId !== undefined) headers.set("x-request-id", context.requestId);
    if (context.forwardedFor !== undefined) headers.set("x-forwarded-for", context.forwardedFor);
    const secret = this.#proof?.secret;
    if (secret !== undefined) headers.set(secret.header, secret.value);
  }
}

/**
 * A fetcher that trusts the subgraph's CA and presents the router's client certificate: Node's own
 * fetch cannot, node:https can. Subgraph requests are small JSON POSTs, answered in one body.
 */
function tlsFetcher(tls: NonNullable<RouterProof["tls"]>): Fetcher {
  const agent = new Agent({ ...tls, keepAlive: true });
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const outgoing = httpsRequest(
        url,
        { method: init.method ?? "GET", headers: Object.fromEntries(new Headers(init.headers)), agent },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on("data", (chunk: Buffer) => chunks.push(chunk));
          incoming.on("error", reject);
          incoming.on("end", () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(incoming.headers))
              if (typeof value === "string") headers.set(name, value);
            resolve(new Response(Buffer.concat(chunks), { status: incoming.statusCode ?? 502, headers }));
          });
        },
      );
      outgoing.on("error", reject);
      outgoing.end(init.body);
    });
}

/** The X-Forwarded-For to send on: the client's own, with the address the gateway saw appended. */
function forwardedFor(request: IncomingMessage): string | undefined {
  const parts = [request.headers["x-forwarded-for"], request.socket.remoteAddress].flat();
  const joined = parts.filter((part) => part !== undefined && part !== "").join(", ");
  return joined === "" ? undefined : joined;
}

/** Starts the gateway from its environment; resolves with its URL and a way to stop it. */
export async function startGateway(env: Env): Promise<{ readonly url: string; stop(): Promise<void> }> {
  const supergraphFile = env.SUPERGRAPH_FILE;
  if (supergraphFile === undefined) throw new Error("SUPERGRAPH_FILE must name the composed supergraph");
  const proof = routerProof(env);
  const server = new ApolloServer<GatewayContext>({
    gateway: new ApolloGateway({
      supergraphSdl: readFileSync(supergraphFile, "utf8"),
      buildService: ({ name, url }) =>
        new SubgraphDataSource(url, name === ASPOSE_TOKEN_SUBGRAPH ? proof : undefined),
    }),
  });
  const { url } = await startStandaloneServer(server, {
    listen: { port: Number(env.PORT ?? 4100), host: env.HOST ?? "0.0.0.0" },
    context: async ({ req }) => {
      const requestId = req.headers["x-request-id"];
      return {
        requestId: typeof requestId === "string" ? requestId : undefined,
        forwardedFor: forwardedFor(req),
      };
    },
  });
  return { url, stop: () => server.stop() };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { url } = await startGateway(process.env);
  console.log(`Apollo Gateway ready at ${url}`);
}
