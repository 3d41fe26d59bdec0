import type { MutationAccessTokenArgs } from "../__generated__/resolvers-types.js";
import { badUserInput } from "../errors.js";
import { ACCESS_TOKEN_CHARACTERS, MAX_ACCESS_TOKEN_LENGTH } from "../tokens/access-token-shape.js";
import type { CredentialKeyer } from "../tokens/credential.js";
import { RejectedToken } from "../tokens/rejected-token.js";
import type { TokenRequest } from "../tokens/types.js";

/** Bounds on credential arguments: Aspose ids are GUIDs and secrets 32 hex characters; 256 is generous. */
export const CREDENTIAL_MAX_LENGTH = 256;
// The longest `minValidity` a caller may ask for: 30 days, longer than any token Aspose issues.
const MIN_VALIDITY_MAX_SECONDS = 2_592_000;

// C0 and C1 control characters (NUL included) have no place in a credential and are a classic way to
// smuggle line breaks into logs or split a form body.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/;

function credential(name: "clientId" | "clientSecret", value: string): string {
  // Messages name the argument and the rule, never the value.
  if (value.trim().length === 0) throw badUserInput(`${name} must not be blank.`, { argumentName: name });
  if (value.length > CREDENTIAL_MAX_LENGTH) {
    throw badUserInput(`${name} must be at most ${CREDENTIAL_MAX_LENGTH} characters.`, {
      argumentName: name,
    });
  }
  if (CONTROL_CHARACTERS.test(value)) {
    throw badUserInput(`${name} must not contain control characters.`, { argumentName: name });
  }
  // A lone surrogate would be silently replaced by U+FFFD when form-encoded, sending a different secret.
  if (!value.isWellFormed()) {
    throw badUserInput(`${name} must be valid Unicode text.`, { argumentName: name });
  }
  return value;
}

// A token this service issued always passes; anything else is refused before it is hashed, and the
// message names the rule, never the value.
function rejectedToken(value: string | null | undefined): RejectedToken | undefined {
  if (value === null || value === undefined) return undefined;
  if (value.length === 0 || value.length > MAX_ACCESS_TOKEN_LENGTH || !ACCESS_TOKEN_CHARACTERS.test(value)) {
    throw badUserInput(
      `rejectedToken must be a token as this service returned it: 1 to ${MAX_ACCESS_TOKEN_LENGTH} visible ASCII characters.`,
      { argumentName: "rejectedToken" },
    );
  }
  return RejectedToken.of(value);
}

/**
 * Validates the mutation's arguments into a TokenRequest; throws BAD_USER_INPUT before any I/O. This
 * is where the secret arrives: from here on it travels inside the credential handle.
 */
export function parseTokenRequest(args: MutationAccessTokenArgs, keyer: CredentialKeyer): TokenRequest {
  const minValidity = args.minValidity ?? 0;
  if (minValidity < 0 || minValidity > MIN_VALIDITY_MAX_SECONDS) {
    throw badUserInput(`minValidity must be from 0 to ${MIN_VALIDITY_MAX_SECONDS} seconds.`, {
      argumentName: "minValidity",
    });
  }
  return {
    credential: keyer.credential(
      credential("clientId", args.clientId),
      credential("clientSecret", args.clientSecret),
    ),
    minValiditySeconds: minValidity,
    forceRefresh: args.forceRefresh ?? false,
    rejectedToken: rejectedToken(args.rejectedToken),
  };
}
