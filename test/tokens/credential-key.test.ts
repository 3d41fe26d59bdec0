/**
 * CredentialKeyer: every input that should separate tokens does, no two credential pairs share an
 * encoding, and nothing of the credentials survives in the key.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { CredentialKeyer } from "../../src/tokens/credential-key.js";

const HMAC_KEY = Buffer.alloc(32, 7);
const OTHER_HMAC_KEY = Buffer.alloc(32, 8);
const TOKEN_URL = "https://api.aspose.cloud/v4.0/cells/connect/token";
const ID = "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77";
const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";

const keyer = new CredentialKeyer(HMAC_KEY, TOKEN_URL);

describe("credentialKey", () => {
  test("is stable for the same inputs", () => {
    const again = new CredentialKeyer(Buffer.from(HMAC_KEY), TOKEN_URL);
    assert.equal(
      keyer.credentialKey({ clientId: ID, clientSecret: SECRET }),
      again.credentialKey({ clientId: ID, clientSecret: SECRET }),
    );
  });

  test("changes with the secret, the id, the token URL and the HMAC key", () => {
    const base = keyer.credentialKey({ clientId: ID, clientSecret: SECRET });
    const variants = [
      keyer.credentialKey({ clientId: ID, clientSecret: `${SECRET}x` }),
      keyer.credentialKey({ clientId: `${ID}x`, clientSecret: SECRET }),
      new CredentialKeyer(HMAC_KEY, "https://id.aspose.cloud/connect/token").credentialKey({
        clientId: ID,
        clientSecret: SECRET,
      }),
      new CredentialKeyer(OTHER_HMAC_KEY, TOKEN_URL).credentialKey({ clientId: ID, clientSecret: SECRET }),
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
    const keys = pairs.map(([clientId, clientSecret]) => keyer.credentialKey({ clientId, clientSecret }));
    assert.equal(new Set(keys).size, pairs.length);
  });

  test("the token URL and the id cannot trade characters either", () => {
    const a = new CredentialKeyer(HMAC_KEY, "https://x/a|1:b").credentialKey({
      clientId: "c",
      clientSecret: "s",
    });
    const b = new CredentialKeyer(HMAC_KEY, "https://x/a").credentialKey({
      clientId: "b|1:c",
      clientSecret: "s",
    });
    assert.notEqual(a, b);
  });

  test("distinct pairs never share a key (property)", () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.string(), (id1, secret1, id2, secret2) => {
        fc.pre(id1 !== id2 || secret1 !== secret2);
        return (
          keyer.credentialKey({ clientId: id1, clientSecret: secret1 }) !==
          keyer.credentialKey({ clientId: id2, clientSecret: secret2 })
        );
      }),
      { numRuns: 2000 },
    );
  });

  test("contains neither the id nor the secret, in clear or encoded", () => {
    const key = keyer.credentialKey({ clientId: ID, clientSecret: SECRET });
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
    assert.notEqual(clientKey, keyer.credentialKey({ clientId: ID, clientSecret: "" }));
  });

  test("an addressKey hides the address and differs from a clientKey of the same text", () => {
    const address = "203.0.113.7";
    const addressKey = keyer.addressKey(address);
    assert.equal(addressKey.includes(address), false);
    assert.notEqual(addressKey, keyer.clientKey(address));
    assert.notEqual(addressKey, keyer.addressKey("203.0.113.8"));
  });
});
