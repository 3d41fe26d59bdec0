/**
 * CredentialKeyer: every input that should separate tokens does, no two credential pairs share an
 * encoding, and nothing of the credentials survives in the key.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { CredentialKeyer } from "../../src/tokens/credential.js";

/** The keyer's arguments for a credential pair. */
function pair(credentials: { clientId: string; clientSecret: string }): [string, string] {
  return [credentials.clientId, credentials.clientSecret];
}

const HMAC_KEY = Buffer.alloc(32, 7);
const OTHER_HMAC_KEY = Buffer.alloc(32, 8);
const TOKEN_URL = "https://api.aspose.cloud/v4.0/cells/connect/token";
const ID = "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77";
const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";

const keyer = new CredentialKeyer(HMAC_KEY, TOKEN_URL);

describe("lookupKey", () => {
  test("is stable for the same inputs", () => {
    const again = new CredentialKeyer(Buffer.from(HMAC_KEY), TOKEN_URL);
    assert.equal(
      keyer.credential(...pair({ clientId: ID, clientSecret: SECRET })).lookupKey,
      again.credential(...pair({ clientId: ID, clientSecret: SECRET })).lookupKey,
    );
  });

  test("changes with the secret, the id, the token URL and the HMAC key", () => {
    const base = keyer.credential(...pair({ clientId: ID, clientSecret: SECRET })).lookupKey;
    const variants = [
      keyer.credential(...pair({ clientId: ID, clientSecret: `${SECRET}x` })).lookupKey,
      keyer.credential(...pair({ clientId: `${ID}x`, clientSecret: SECRET })).lookupKey,
      new CredentialKeyer(HMAC_KEY, "https://id.aspose.cloud/connect/token").credential(
        ...pair({
          clientId: ID,
          clientSecret: SECRET,
        }),
      ).lookupKey,
      new CredentialKeyer(OTHER_HMAC_KEY, TOKEN_URL).credential(
        ...pair({ clientId: ID, clientSecret: SECRET }),
      ).lookupKey,
    ];
    assert.equal(new Set([base, ...variants]).size, 1 + variants.length);
  });

  test("the length prefix keeps ('ab','c') apart from ('a','bc'), separators included", () => {
    const pairs: [string, string][] = [
      ["ab", "c"],
      ["a", "bc"],
      ["a|", "b"],
      ["a", "|b"],
      ["1:a", "b"],
      ["", "1:ab"],
    ];
    const keys = pairs.map(
      ([clientId, clientSecret]) => keyer.credential(...pair({ clientId, clientSecret })).lookupKey,
    );
    assert.equal(new Set(keys).size, pairs.length);
  });

  test("the token URL and the id cannot trade characters either", () => {
    const a = new CredentialKeyer(HMAC_KEY, "https://x/a|1:b").credential(
      ...pair({
        clientId: "c",
        clientSecret: "s",
      }),
    ).lookupKey;
    const b = new CredentialKeyer(HMAC_KEY, "https://x/a").credential(
      ...pair({
        clientId: "b|1:c",
        clientSecret: "s",
      }),
    ).lookupKey;
    assert.notEqual(a, b);
  });

  test("distinct pairs never share a key (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (id1, secret1, id2, secret2) => {
        fc.pre(id1 !== id2 || secret1 !== secret2);
        return (
          keyer.credential(...pair({ clientId: id1, clientSecret: secret1 })).lookupKey !==
          keyer.credential(...pair({ clientId: id2, clientSecret: secret2 })).lookupKey
        );
      }),
      { numRuns: 2000 },
    );
  });

  test("contains neither the id nor the secret, in clear or encoded", () => {
    const key = keyer.credential(...pair({ clientId: ID, clientSecret: SECRET })).lookupKey;
    assert.match(key, /^[A-Za-z0-9_-]{43}$/); // a base64url SHA-256 digest, nothing more
    for (const value of [ID, SECRET]) {
      for (const form of [
        value,
        Buffer.from(value).toString("base64url"),
        Buffer.from(value).toString("hex"),
      ]) {
        assert.equal(key.includes(form), false);
      }
    }
    for (const fragment of [ID.slice(0, 8), SECRET.slice(0, 8)]) assert.equal(key.includes(fragment), false);
  });
});

describe("clientKey and addressKey", () => {
  test("a clientKey depends on the id alone, never in clear, and differs from any credentialKey", () => {
    const clientKey = keyer.clientKey(ID);
    assert.equal(clientKey, keyer.clientKey(ID));
    assert.notEqual(clientKey, keyer.clientKey(`${ID}x`));
    assert.notEqual(clientKey, new CredentialKeyer(OTHER_HMAC_KEY, TOKEN_URL).clientKey(ID));
    assert.equal(clientKey.includes(ID), false);
    assert.notEqual(clientKey, keyer.credential(...pair({ clientId: ID, clientSecret: "" })).lookupKey);
  });

  test("an addressKey hides the address and differs from a clientKey of the same text", () => {
    const address = "203.0.113.7";
    const addressKey = keyer.addressKey(address);
    assert.equal(addressKey.includes(address), false);
    assert.notEqual(addressKey, keyer.clientKey(address));
    assert.notEqual(addressKey, keyer.addressKey("203.0.113.8"));
  });
});
