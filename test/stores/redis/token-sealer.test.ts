import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { TokenSealer } from "../../../src/stores/redis/token-sealer.js";
import { Credential } from "../../../src/tokens/credential.js";
import type { IssuedToken } from "../../../src/tokens/types.js";

interface Credentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A handle as the keyer makes it, with the lookup key chosen by the test. */
function credentialOf(lookupKey: string, credentials: Credentials): Credential {
  return new Credential(credentials.clientId, credentials.clientSecret, lookupKey, "client-key");
}

const SERVER_KEY = randomBytes(32);
const CREDENTIALS: Credentials = {
  clientId: "0f6c2a51-4c5e-4f3a-9d33-5b1c2f0e9a77",
  clientSecret: "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e",
};
const LOOKUP_KEY = "k3y-derived-by-hmac";
const TOKEN: IssuedToken = {
  accessToken: "eyJhbGciOiJSUzI1NiJ9.eyJjbGllbnRfaWQiOiIwZjZjIn0.c2lnbmF0dXJl",
  tokenType: "Bearer",
  issuedAtMs: 1_764_072_000_000,
  expiresAtMs: 1_764_075_600_000,
  scopes: ["api.storage", "api.products"],
  defaultStorage: "7e0c1d2b-0000-4000-8000-000000000000",
};

const sealer = new TokenSealer(SERVER_KEY);

/** Flips one bit of the decoded entry at `index` (negative: from the end). */
function flipBit(sealed: string, index: number): string {
  const bytes = Buffer.from(sealed, "base64url");
  const at = index < 0 ? bytes.length + index : index;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  return bytes.toString("base64url");
}

test("a sealed token opens with the same credentials and lookup key, every field intact", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN);
  assert.deepEqual(sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), sealed), TOKEN);
  // A fresh IV each time: the same token never seals to the same text.
  assert.notEqual(sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN), sealed);
});

test("the sealed text holds nothing in clear: no token, clientId, secret, storage or scope", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN);
  const raw = Buffer.from(sealed, "base64url");
  for (const secret of [
    TOKEN.accessToken,
    ...TOKEN.accessToken.split("."),
    CREDENTIALS.clientId,
    CREDENTIALS.clientSecret,
    "7e0c1d2b",
    "api.storage",
  ]) {
    assert.equal(sealed.includes(secret), false, `sealed text contains ${secret}`);
    assert.equal(raw.includes(Buffer.from(secret)), false, `sealed bytes contain ${secret}`);
  }
});

test("a wrong secret, another clientId or another server key cannot open it", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN);
  assert.equal(
    sealer.open(
      credentialOf(LOOKUP_KEY, { ...CREDENTIALS, clientSecret: `${CREDENTIALS.clientSecret}x` }),
      sealed,
    ),
    undefined,
  );
  assert.equal(
    sealer.open(credentialOf(LOOKUP_KEY, { ...CREDENTIALS, clientId: "another-client" }), sealed),
    undefined,
  );
  assert.equal(
    new TokenSealer(randomBytes(32)).open(credentialOf(LOOKUP_KEY, CREDENTIALS), sealed),
    undefined,
  );
});

test("the key derivation is length-prefixed: (ab, c) does not open what (a, bc) sealed", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, { clientId: "a", clientSecret: "bc" }), TOKEN);
  assert.equal(
    sealer.open(credentialOf(LOOKUP_KEY, { clientId: "ab", clientSecret: "c" }), sealed),
    undefined,
  );
  assert.deepEqual(
    sealer.open(credentialOf(LOOKUP_KEY, { clientId: "a", clientSecret: "bc" }), sealed),
    TOKEN,
  );
});

test("an entry moved under another lookup key does not open (AAD mismatch)", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN);
  assert.equal(sealer.open(credentialOf(`${LOOKUP_KEY}2`, CREDENTIALS), sealed), undefined);
  assert.equal(sealer.open(credentialOf("", CREDENTIALS), sealed), undefined);
});

test("tampering with any part is detected: format byte, IV, tag, ciphertext, length", () => {
  const sealed = sealer.seal(credentialOf(LOOKUP_KEY, CREDENTIALS), TOKEN);
  for (const index of [0, 1, 12, 13, 28, 29, 40, -1]) {
    assert.equal(
      sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), flipBit(sealed, index)),
      undefined,
      `bit at ${index}`,
    );
  }
  const bytes = Buffer.from(sealed, "base64url");
  assert.equal(
    sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), bytes.subarray(0, -1).toString("base64url")),
    undefined,
  );
  assert.equal(
    sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), bytes.subarray(0, 29).toString("base64url")),
    undefined,
  );
  assert.equal(sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), ""), undefined);
  assert.equal(sealer.open(credentialOf(LOOKUP_KEY, CREDENTIALS), "not base64 at all!"), undefined);
});
