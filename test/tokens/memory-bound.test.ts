/**
 * The in-memory cache's two bounds, on the real MemoryTokenCache: entry count (LRU) and each token's own
 * expiry, the latter driven by the injected clock.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { MemoryTokenCache } from "../../src/tokens/memory-token-cache.js";
import type { ObtainRequest } from "../../src/tokens/token-cache.js";
import type { IssuedToken } from "../../src/tokens/types.js";
import { TestClock } from "../support/harness.js";

const HOUR = 3_600_000;

/** A request whose fetch mints a one-hour token and counts itself; `isUsable` accepts anything. */
function requestFor(key: string, clock: TestClock, counter: { fetches: number }): ObtainRequest {
  return {
    key,
    credentials: { clientId: key, clientSecret: "secret" },
    forceRefresh: false,
    // Accept any stored token: what is served must then be bounded by the cache itself.
    isUsable: () => true,
    fetch: async (): Promise<IssuedToken> => {
      counter.fetches++;
      const now = clock.now();
      return {
        accessToken: `token-${key}-${counter.fetches}`,
        tokenType: "Bearer",
        issuedAtMs: now,
        expiresAtMs: now + HOUR,
        scopes: [],
        defaultStorage: null,
      };
    },
  };
}

test("100,000 distinct credentials never hold more than maxEntries tokens", { timeout: 60_000 }, async () => {
  const clock = new TestClock();
  const cache = new MemoryTokenCache({ maxEntries: 1000, clock: clock.now });
  const counter = { fetches: 0 };
  let largest = 0;
  for (let i = 0; i < 100_000; i++) {
    const result = await cache.obtain(requestFor(`key-${i}`, clock, counter));
    assert.equal(result.source, "upstream");
    const size = cache.size();
    if (size > largest) largest = size;
    if (size > 1000) assert.fail(`size ${size} exceeds maxEntries after ${i + 1} keys`);
  }
  assert.equal(largest, 1000);
  assert.equal(cache.size(), 1000);
  assert.equal(counter.fetches, 100_000);

  // The most recent keys are still held; the oldest were pushed out and must be fetched again.
  const recent = await cache.obtain(requestFor("key-99999", clock, counter));
  assert.equal(recent.source, "cache");
  const oldest = await cache.obtain(requestFor("key-0", clock, counter));
  assert.equal(oldest.source, "upstream");
  assert.equal(counter.fetches, 100_001);
  assert.equal(cache.size(), 1000);
  await cache.close();
  assert.equal(cache.size(), 0);
});

test("a token is served until its expiry and never after it, even when the caller would accept it", async () => {
  const clock = new TestClock();
  const cache = new MemoryTokenCache({ maxEntries: 1000, clock: clock.now });
  const counter = { fetches: 0 };

  const first = await cache.obtain(requestFor("k", clock, counter));
  assert.equal(first.source, "upstream");
  clock.advance(HOUR - 1);
  const stillValid = await cache.obtain(requestFor("k", clock, counter));
  assert.equal(stillValid.source, "cache");
  assert.equal(stillValid.token.accessToken, first.token.accessToken);

  clock.advance(2);
  const afterExpiry = await cache.obtain(requestFor("k", clock, counter));
  assert.equal(afterExpiry.source, "upstream");
  assert.notEqual(afterExpiry.token.accessToken, first.token.accessToken);
  assert.equal(counter.fetches, 2);
  assert.equal(cache.size(), 1);
});

test("expired entries of other keys are not served either, and do not outlive their expiry", async () => {
  const clock = new TestClock();
  const cache = new MemoryTokenCache({ maxEntries: 1000, clock: clock.now });
  const counter = { fetches: 0 };
  for (let i = 0; i < 10; i++) await cache.obtain(requestFor(`k${i}`, clock, counter));
  clock.advance(HOUR + 1);
  for (let i = 0; i < 10; i++) {
    const result = await cache.obtain(requestFor(`k${i}`, clock, counter));
    assert.equal(result.source, "upstream", `k${i} was served after its expiry`);
  }
  assert.equal(counter.fetches, 20);
});

test("a token already expired when fetched is returned but not stored", async () => {
  const clock = new TestClock();
  const cache = new MemoryTokenCache({ maxEntries: 1000, clock: clock.now });
  let fetches = 0;
  const request: ObtainRequest = {
    key: "k",
    credentials: { clientId: "id", clientSecret: "secret" },
    forceRefresh: false,
    isUsable: () => true,
    fetch: async () => {
      fetches++;
      const now = clock.now();
      return {
        accessToken: "t",
        tokenType: "Bearer",
        issuedAtMs: now,
        expiresAtMs: now,
        scopes: [],
        defaultStorage: null,
      };
    },
  };
  assert.equal((await cache.obtain(request)).source, "upstream");
  assert.equal(cache.size(), 0);
  assert.equal((await cache.obtain(request)).source, "upstream");
  assert.equal(fetches, 2);
});
