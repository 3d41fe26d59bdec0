/**
 * Whatever lifetime Aspose gives its tokens (10 s and up), a credential under steady traffic is
 * refreshed about twice per token lifetime, never once per request: the refresh windows are bounded by
 * the lifetime. First the windows on their own, then steady traffic through the real service over real
 * HTTP, the fake issuing short tokens and one TestClock moving between requests.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { freshness, isUsable, type RefreshPolicy } from "../../src/tokens/refresh-policy.js";
import type { IssuedToken } from "../../src/tokens/types.js";
import { type Harness, requestToken, served, startHarness } from "../support/harness.js";

const SECOND = 1000;
/** The configured defaults: hard margin max(60 s, 10 %), refresh-ahead max(300 s, 25 %). */
const DEFAULT_POLICY: RefreshPolicy = {
  margin: { minSeconds: 60, ratio: 0.1 },
  ahead: { minSeconds: 300, ratio: 0.25 },
};

function tokenOfLifetime(seconds: number): IssuedToken {
  const issuedAtMs = 1_000_000;
  return {
    accessToken: "a.b.c",
    tokenType: "Bearer",
    issuedAtMs,
    expiresAtMs: issuedAtMs + seconds * SECOND,
    scopes: [],
    defaultStorage: null,
  };
}

/** The last instants (seconds before expiry) at which a token is still fresh, and still usable. */
function windowsOf(lifetimeSeconds: number, policy = DEFAULT_POLICY): { ahead: number; margin: number } {
  const token = tokenOfLifetime(lifetimeSeconds);
  let ahead = 0;
  let margin = 0;
  // Millisecond steps from the expiry backwards: the first fresh instant bounds the ahead window.
  for (let left = 1; left <= lifetimeSeconds * SECOND; left++) {
    const now = token.expiresAtMs - left;
    if (margin === 0 && isUsable(token, now, policy.margin, 0)) margin = left;
    if (freshness(token, now, policy, 0) === "fresh") {
      ahead = left;
      break;
    }
  }
  return { ahead: ahead / SECOND, margin: margin / SECOND };
}

describe("the refresh windows are bounded by the lifetime", () => {
  for (const [lifetime, ahead, margin] of [
    // Short tokens: the windows are capped at half (ahead) and a quarter (margin) of the lifetime.
    [10, 5, 2.5],
    [15, 7.5, 3.75],
    [60, 30, 15],
    [300, 150, 60],
    // From 600 s on the configured windows fit, and apply unchanged.
    [600, 300, 60],
    [3600, 900, 360],
    [86_400, 21_600, 8640],
  ] as const) {
    test(`a ${lifetime} s token: refreshed ahead from ${ahead} s before expiry, hard margin ${margin} s`, () => {
      assert.deepEqual(windowsOf(lifetime), { ahead, margin });
    });
  }

  test("ratios configured above the caps are held to half and a quarter of the lifetime", () => {
    const wide = { margin: { minSeconds: 0, ratio: 0.9 }, ahead: { minSeconds: 0, ratio: 0.99 } };
    assert.deepEqual(windowsOf(3600, wide), { ahead: 1800, margin: 900 });
  });
});

/**
 * Sends `requests` requests for one credential, `gapMs` of clock apart, and reports what Aspose saw and
 * what the callers got.
 */
async function steadyTraffic(
  harness: Harness,
  requests: number,
  gapMs: number,
): Promise<{ upstreamCalls: number; distinctTokens: number; waited: number }> {
  const tokens = new Set<string>();
  let waited = 0;
  for (let index = 0; index < requests; index++) {
    const answer = served(await requestToken(harness));
    tokens.add(answer.accessToken);
    if (index > 0 && !answer.fromCache) waited++;
    harness.clock.advance(gapMs);
  }
  // A background refresh started by the last requests may still be under way: it counts if Aspose
  // has seen it, and its token may not have been served yet.
  return { upstreamCalls: harness.fake.totalTokenRequests, distinctTokens: tokens.size, waited };
}

async function withLifetime(
  lifetimeSeconds: number,
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  // The configured defaults (max(300 s, 25 %) ahead, max(60 s, 10 %) margin): the case that flooded.
  const harness = await startHarness({ fake: { lifetimeSeconds } });
  try {
    await body(harness);
  } finally {
    await harness.close();
  }
}

describe("steady traffic with short-lived tokens", () => {
  test("60 s tokens, 200 sequential requests half a second apart: a few upstream calls, not 200", async () => {
    await withLifetime(60, async (harness) => {
      const { upstreamCalls, distinctTokens, waited } = await steadyTraffic(harness, 200, 500);
      // 100 s of traffic: the first token, then one replacement per half-lifetime (30 s).
      assert.ok(upstreamCalls <= 5, `${upstreamCalls} upstream calls for 200 requests`);
      assert.ok(upstreamCalls >= 3, `${upstreamCalls} upstream calls: the tokens were not replaced`);
      assert.ok(distinctTokens >= upstreamCalls - 1, "every token fetched (but the last) was served");
      assert.equal(waited, 0, "no caller waited for Aspose after the first");
    });
  });

  test("15 s tokens, a request every 250 ms for a minute: each token replaced once, a few calls a minute", async () => {
    await withLifetime(15, async (harness) => {
      const { upstreamCalls, distinctTokens, waited } = await steadyTraffic(harness, 240, 250);
      // One replacement per 7.5 s: 8 in a minute, plus the first token.
      assert.ok(upstreamCalls <= 10, `${upstreamCalls} upstream calls for 240 requests`);
      assert.ok(upstreamCalls >= 7, `${upstreamCalls} upstream calls: the tokens were not replaced`);
      assert.ok(distinctTokens >= upstreamCalls - 1, "every token fetched (but the last) was served");
      assert.equal(waited, 0, "no caller waited for Aspose after the first");
    });
  });

  test("60 s tokens and a minValidity no token can meet: replaced once per hard margin (15 s), not per request", async () => {
    await withLifetime(60, async (harness) => {
      const tokens = new Set<string>();
      for (let index = 0; index < 120; index++) {
        tokens.add(served(await requestToken(harness, { minValidity: 3600 })).accessToken);
        harness.clock.advance(500);
      }
      // 60 s of traffic: a token is as good as any for such a caller within its first 15 s.
      const calls = harness.fake.totalTokenRequests;
      assert.ok(calls <= 5, `${calls} upstream calls for 120 requests`);
      assert.equal(tokens.size, calls);
    });
  });

  test("3,600 s tokens: unchanged, served untouched until 900 s remain, then refreshed once in the background", async () => {
    await withLifetime(3600, async (harness) => {
      const first = served(await requestToken(harness));
      harness.clock.advance(2700 * SECOND);
      const stillFresh = served(await requestToken(harness));
      assert.equal(stillFresh.accessToken, first.accessToken);
      assert.equal(harness.fake.totalTokenRequests, 1, "no refresh with 900 s left");

      harness.clock.advance(1 * SECOND);
      const ahead = served(await requestToken(harness));
      assert.equal(ahead.accessToken, first.accessToken, "served at once inside the ahead window");
      await harness.store.stored(2);
      assert.equal(harness.fake.totalTokenRequests, 2, "one background refresh");
      const next = served(await requestToken(harness));
      assert.notEqual(next.accessToken, first.accessToken);
      assert.equal(next.fromCache, true);
      assert.equal(harness.fake.totalTokenRequests, 2);
    });
  });
});
