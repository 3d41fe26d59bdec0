/**
 * The perimeter in front of Apollo: whether a request to /graphql comes from the router (shared
 * secret, HMAC signature, client certificate: every configured proof is required), and if not, whether
 * it may run (refused outright under router-only access, or held to the trusted documents). Each proof
 * is a module of its own; this one only combines them and answers refusals.
 */
import type { IncomingMessage } from "node:http";
import type { PerimeterConfig } from "../../config/index.js";
import { PerimeterCode } from "../../errors.js";
import { jsonError, type Reply } from "../../http/exchange.js";
import { answerMediaType, refusedDocumentStatus } from "../status-codes.js";
import { clientCertificateCheck } from "./client-certificate.js";
import { type GraphQLRequestParts, paramsOf, withDocument } from "./graphql-params.js";
import type { GraphQLParams } from "./graphql-params.js";
import { hmacSignatureCheck } from "./hmac-signature.js";
import type { RefusalReason } from "./refusal.js";
import { sharedSecretCheck } from "./shared-secret.js";
import { trustedDocumentCheck } from "./trusted-documents.js";

export type { GraphQLRequestParts } from "./graphql-params.js";
export { REFUSAL_REASONS, type RefusalReason } from "./refusal.js";

/** What to do with a request: run it (perhaps as the listed document its id names), or this refusal. */
export type Admission = { readonly parts: GraphQLRequestParts } | { readonly refused: Reply };

/** Decides on one request to /graphql, its body already read. */
export type Admit = (request: IncomingMessage, parts: GraphQLRequestParts) => Admission;

type Proof = (request: IncomingMessage, params: GraphQLParams) => RefusalReason | undefined;

const ROUTER_ONLY_MESSAGE =
  "This service answers its router only: send the operation to the router (GraphQL gateway) instead.";

/** The perimeter the configuration asks for; undefined when it asks for none (anyone may call). */
export function perimeter(
  config: PerimeterConfig,
  onRefusal: (reason: RefusalReason) => void,
): Admit | undefined {
  const proofs: Proof[] = [];
  if (config.tls?.clientCaFile !== undefined) proofs.push((request) => clientCertificateCheck(request));
  if (config.sharedSecret !== undefined) {
    const check = sharedSecretCheck(config.sharedSecret.header, config.sharedSecret.secrets);
    proofs.push((request) => check(request));
  }
  if (config.hmacSecrets.length > 0) {
    const check = hmacSignatureCheck(config.hmacSecrets);
    proofs.push((_request, params) => check(params));
  }
  const documents =
    config.trustedDocuments === undefined ? undefined : trustedDocumentCheck(config.trustedDocuments);
  if (proofs.length === 0 && documents === undefined) return undefined;

  return (request, parts) => {
    const params = paramsOf(parts);
    if (proofs.length > 0) {
      let reason: RefusalReason | undefined;
      for (const proof of proofs) {
        reason = proof(request, params);
        if (reason !== undefined) break;
      }
      // The router's requests are its own query plans: no client manifest lists them.
      if (reason === undefined) return { parts };
      if (documents === undefined) {
        onRefusal(reason);
        return { refused: jsonError(403, PerimeterCode.ROUTER_ONLY, ROUTER_ONLY_MESSAGE) };
      }
    }
    if (documents === undefined) return { parts };
    const decision = documents(params);
    if ("refused" in decision) {
      onRefusal("document_not_listed");
      return { refused: documentRefusal(decision.refused, request.headers.accept) };
    }
    return decision.run === "listed" ? { parts: withDocument(parts, decision.document) } : { parts };
  };
}

const DOCUMENT_MESSAGES = {
  [PerimeterCode.PERSISTED_QUERY_NOT_IN_LIST]:
    "This persisted query id is not one of this service's trusted documents. Nothing was run.",
  [PerimeterCode.QUERY_NOT_IN_SAFELIST]:
    "This operation is not one of this service's trusted documents: send a listed operation, by its id or its exact text. Nothing was run.",
};

/** A refused document, answered with the spec's status and media type for the client's Accept. */
function documentRefusal(code: keyof typeof DOCUMENT_MESSAGES, accept: string | undefined): Reply {
  const reply = jsonError(refusedDocumentStatus(accept), code, DOCUMENT_MESSAGES[code]);
  return {
    ...reply,
    headers: { ...reply.headers, "content-type": `${answerMediaType(accept)}; charset=utf-8` },
  };
}
