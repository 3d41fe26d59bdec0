/**
 * What an access token can be, for the connector (a token Aspose issued) and the argument parser (a
 * token a caller reports as refused) alike: one rule, so a token this service returned always passes.
 */

/** The longest access token accepted: a JWT of about 1 KiB, with room to spare. */
export const MAX_ACCESS_TOKEN_LENGTH = 16_384;

/** A bearer token goes into an HTTP header: visible ASCII only, anything else would break it. */
export const ACCESS_TOKEN_CHARACTERS = /^[\x21-\x7e]+$/;
