import { createHmac, timingSafeEqual } from "node:crypto";
import stableStringify from "json-stable-stringify";
import type { GraphQLParams } from "./graphql-params.js";
import type { RefusalReason } from "./refusal.js";

/** The extension Hive Gateway's `hmacSignature` writes the signature into (its default name). */
export const HMAC_EXTENSION = "hmac-signature";

/**
 * The text Hive Gateway signs, as its own validation plugin (`useHmacSignatureValidation` in
 * @graphql-mesh/hmac-upstream-signature) rebuilds it on the subgraph: the query and, when not empty,
 * the variables, serialised by json-stable-stringify (keys sorted), the library the gateway's plugin
 * bundles. test/federation/router-only.test.ts holds this equal to the plugin's own serializer.
 */
export function signedText(query: string | undefined, variables: unknown): string {
  const hasVariables =
    typeof variables === "object" && variables !== null && Object.keys(variables).length > 0;
  return stableStringify({ query, variables: hasVariables ? variables : undefined }) ?? "";
}

/**
 * Hive Gateway's HMAC upstream signature: base64 of HMAC-SHA256 over `signedText`, keyed by the
 * shared key's UTF-8 bytes, in `extensions["hmac-signature"]`. One or two keys (two while rotating).
 */
export function hmacSignatureCheck(
  keys: readonly Buffer[],
): (params: GraphQLParams) => RefusalReason | undefined {
  return (params) => {
    const presented = params.extensions?.[HMAC_EXTENSION];
    if (typeof presented !== "string" || presented === "") return "signature_missing";
    const signature = Buffer.from(presented, "base64");
    const text = signedText(params.query, params.variables);
    let matched = false;
    for (const key of keys) {
      const expected = createHmac("sha256", key).update(text).digest();
      // Every key is tried, so the time does not say which one matched; a signature of the wrong
      // length matches none.
      matched = (signature.length === expected.length && timingSafeEqual(signature, expected)) || matched;
    }
    return matched ? undefined : "signature_wrong";
  };
}
