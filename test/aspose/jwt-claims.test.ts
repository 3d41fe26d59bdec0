import assert from "node:assert/strict";
import { test } from "node:test";
import { readTokenClaims } from "../../src/aspose/jwt-claims.js";

const HEADER = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");

function jwtWith(claims: unknown): string {
  return `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.c2lnbmF0dXJl`;
}

const NO_CLAIMS = { exp: undefined, scopes: [], defaultStorage: null };

test("claims of an Aspose-shaped token: exp, scope array and default storage", () => {
  const claims = readTokenClaims(
    jwtWith({
      nbf: 1_795_608_000,
      exp: 1_795_611_600,
      iss: "https://api.aspose.cloud",
      client_id: "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77",
      client_default_storage: "8a3f0c55-1d2e-4b7a-9c6d-0e1f2a3b4c5d",
      scope: ["api.billing", "api.identity", "api.products", "api.storage"],
    }),
  );
  assert.deepEqual(claims, {
    exp: 1_795_611_600,
    scopes: ["api.billing", "api.identity", "api.products", "api.storage"],
    defaultStorage: "8a3f0c55-1d2e-4b7a-9c6d-0e1f2a3b4c5d",
  });
});

test("an OAuth space-separated scope string is split into scopes, blanks dropped", () => {
  assert.deepEqual(readTokenClaims(jwtWith({ scope: " api.storage  api.billing " })).scopes, [
    "api.storage",
    "api.billing",
  ]);
});

test("non-string entries of a scope array are dropped, other scope types give no scopes", () => {
  assert.deepEqual(readTokenClaims(jwtWith({ scope: ["api.storage", 7, null, { a: 1 }] })).scopes, [
    "api.storage",
  ]);
  assert.deepEqual(readTokenClaims(jwtWith({ scope: 42 })).scopes, []);
  assert.deepEqual(readTokenClaims(jwtWith({ scope: { api: true } })).scopes, []);
});

test("a missing or non-numeric exp is undefined, so expiry falls back to expires_in", () => {
  assert.equal(readTokenClaims(jwtWith({ nbf: 1, scope: ["a"] })).exp, undefined);
  assert.equal(readTokenClaims(jwtWith({ exp: "1795611600" })).exp, undefined);
  assert.equal(readTokenClaims(jwtWith({ exp: null })).exp, undefined);
  // The rest of the claims still count when only exp is missing.
  assert.deepEqual(readTokenClaims(jwtWith({ scope: ["api.storage"] })).scopes, ["api.storage"]);
});

test("a non-string default storage is null", () => {
  assert.equal(readTokenClaims(jwtWith({ client_default_storage: 12 })).defaultStorage, null);
  assert.equal(readTokenClaims(jwtWith({})).defaultStorage, null);
});

test("a token that is not a JWT yields no claims instead of throwing", () => {
  for (const token of [
    "",
    "opaque-reference-token",
    "a.b",
    `${HEADER}..c2ln`,
    `${jwtWith({ exp: 1 })}.extra`,
    "....",
  ]) {
    assert.deepEqual(readTokenClaims(token), NO_CLAIMS, JSON.stringify(token));
  }
});

test("a payload that is bad base64, not JSON, or not an object yields no claims", () => {
  const payloads = [
    "!!!not*base64!!!",
    Buffer.from("{not json").toString("base64url"),
    Buffer.from('{"exp":17956').toString("base64url"),
    Buffer.from("null").toString("base64url"),
    Buffer.from("1795611600").toString("base64url"),
    Buffer.from('"text"').toString("base64url"),
  ];
  for (const payload of payloads) {
    assert.deepEqual(readTokenClaims(`${HEADER}.${payload}.c2ln`), NO_CLAIMS, payload);
  }
});
