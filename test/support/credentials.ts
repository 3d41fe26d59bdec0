import { randomBytes } from "node:crypto";
import { type Credential, CredentialKeyer } from "../../src/tokens/credential.js";

const keyer = new CredentialKeyer(randomBytes(32), "http://127.0.0.1/connect/token");

/** The handle the request parser would make for these credentials. */
export function testCredential(clientId: string, clientSecret: string): Credential {
  return keyer.credential(clientId, clientSecret);
}
