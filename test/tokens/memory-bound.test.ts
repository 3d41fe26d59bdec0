/**
 * The in-memory store's two bounds, on the real MemoryTokenStore: entry count (LRU) and each token's own
 * expiry, the latter driven by the injected clock.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryTokenStore } from "../../src/stores/memory/memory-token-store.js";
import { type Credential, CredentialKeyer } from "../../src/tokens/credential.js";
import type { IssuedToken } from "../../src/tokens/types.js";
import { TestClock } from "../support/harness.js";

const HOUR = 3_600_000;
const keyer = new CredentialKeyer(Buffer.alloc(32, 3), "http://127.0.0.1/connect/token");

function credential(name: string): Credential {
  return keyer.credential(name, "secret");
}

function tokenAt(now: number, name: string): IssuedToken {
  return {
    accessToken: `token-${name}`,
    tokenType: "Bearer",
    issuedAtMs: now,
    expiresAtMs: now + HOUR,
    scopes: [],
    defaultStorage: null,
  };
}

test("100,000 distinct credentials never hold more than maxEntries tokens", { timeout: 60_000 }, async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore({ maxEntries: 1000, clock: clock.now });
  let largest = 0;
  for (let i = 0; i < 100_000; i++) {
    await store.put(credential(`key-${i}`), tokenAt(clock.now(), `${i}`), HOUR);
    const size = store.size();
    if (size > largest) largest = size;
    if (size > 1000) assert.fail(`size ${size} exceeds maxEntries after ${i + 1} keys`);
  }
  assert.equal(largest, 1000);

  // The most recent keys are still held; the oldest were pushed out.
  assert.equal((await store.get(credential("key-99999")))?.token.accessToken, "token-99999");
  assert.equal(await store.get(credential("key-0")), undefined);
  await store.close();
  assert.equal(store.size(), 0);
});

test("a token is held until its expiry and never after it", async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore({ maxEntries: 1000, clock: clock.now });
  const token = tokenAt(clock.now(), "k");
  await store.put(credential("k"), token, HOUR);
  clock.advance(HOUR - 1);
  assert.equal((await store.get(credential("k")))?.token, token);
  clock.advance(2);
  assert.equal(await store.get(credential("k")), undefined);
});

test("expired entries of other keys are not returned either", async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore({ maxEntries: 1000, clock: clock.now });
  for (let i = 0; i < 10; i++) await store.put(credential(`k${i}`), tokenAt(clock.now(), `${i}`), HOUR);
  clock.advance(HOUR + 1);
  for (let i = 0; i < 10; i++)
    assert.equal(await store.get(credential(`k${i}`)), undefined, `k${i} after expiry`);
});

test("an entry with no time left is not stored, and a store of 0 entries stores nothing", async () => {
  const clock = new TestClock();
  const store = new MemoryTokenStore({ maxEntries: 1000, clock: clock.now });
  await store.put(credential("k"), tokenAt(clock.now(), "k"), 0);
  assert.equal(store.size(), 0);
  const off = new MemoryTokenStore({ maxEntries: 0, clock: clock.now });
  await off.put(credential("k"), tokenAt(clock.now(), "k"), HOUR);
  assert.equal(await off.get(credential("k")), undefined);
  assert.equal(off.size(), 0);
});
