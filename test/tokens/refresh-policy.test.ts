/**
 * When a cached token is replaced: the margin rule on its own, then through the real service with the
 * margin configured from the environment as main.ts would read it.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isUsable } from "../../src/tokens/refresh-policy.js";
import type { IssuedToken } from "../../src/tokens/types.js";
import {
  CLIENT_SECRET,
  type Harness,
  type HarnessOptions,
  leakedSecrets,
  requestToken,
  served,
  startHarness,
} from "../support/harness.js";

const SECOND = 1000;
const DEFAULT_MARGIN = { minSeconds: 60, ratio: 0.1 };

function tokenOfLifetime(seconds: number, issuedAtMs = 1_000_000): IssuedToken {
  return {
    accessToken: "a.b.c",
    tokenType: "Bearer",
    issuedAtMs,
    expiresAtMs: issuedAtMs + seconds * SECOND,
    scopes: [],
    defaultStorage: null,
  };
}

describe("isUsable", () => {
  test("a 3600 s token is usable until 360 s (10 %) remain", () => {
    const token = tokenOfLifetime(3600);
    assert.equal(isUsable(token, token.expiresAtMs - 360 * SECOND, DEFAULT_MARGIN, 0), true);
    assert.equal(isUsable(token, token.expiresAtMs - 360 * SECOND + 1, DEFAULT_MARGIN, 0), false);
  });

  test("a 300 s token is usable until 60 s remain: the floor wins over 10 %", () => {
    const token = tokenOfLifetime(300);
    assert.equal(isUsable(token, token.expiresAtMs - 60 * SECOND, DEFAULT_MARGIN, 0), true);
    assert.equal(isUsable(token, token.expiresAtMs - 60 * SECOND + 1, DEFAULT_MARGIN, 0), false);
  });

  test("minValidity beyond the margin is honoured, below it the margin still applies", () => {
    const token = tokenOfLifetime(3600);
    const now = token.expiresAtMs - 1000 * SECOND;
    assert.equal(isUsable(token, now, DEFAULT_MARGIN, 1000), true);
    assert.equal(isUsable(token, now, DEFAULT_MARGIN, 1001), false);
    assert.equal(isUsable(token, token.expiresAtMs - 300 * SECOND, DEFAULT_MARGIN, 100), false);
  });

  test("an expired token is never usable, whatever the margin", () => {
    const token = tokenOfLifetime(3600);
    const noMargin = { minSeconds: 0, ratio: 0 };
    assert.equal(isUsable(token, token.expiresAtMs - 1, noMargin, 0), true);
    // RFC 7519: a token must not be accepted on or after its exp.
    assert.equal(isUsable(token, token.expiresAtMs, noMargin, 0), false);
    assert.equal(isUsable(token, token.expiresAtMs + 1, noMargin, 0), false);
  });
});

/**
 * Gets a token, moves to exactly `marginSeconds` before its expiry (still served from the cache), then
 * one second further (replaced by a new upstream token).
 */
async function assertReplacedAtMargin(
  options: HarnessOptions,
  lifetimeSeconds: number,
  marginSeconds: number,
): Promise<void> {
  // The hard margin alone: no refresh-ahead window in front of it (tested on its own elsewhere).
  const harness: Harness = await startHarness({
    ...options,
    env: { TOKEN_REFRESH_AHEAD_SECONDS: "0", TOKEN_REFRESH_AHEAD_RATIO: "0", ...options.env },
  });
  try {
    const first = served(await requestToken(harness));
    assert.equal(first.expiresIn, lifetimeSeconds);

    harness.clock.advance((lifetimeSeconds - marginSeconds) * SECOND);
    const atMargin = served(await requestToken(harness));
    assert.equal(atMargin.fromCache, true, `served from the cache with ${marginSeconds} s left`);
    assert.equal(atMargin.accessToken, first.accessToken);
    assert.equal(atMargin.expiresIn, marginSeconds);
    assert.equal(harness.fake.totalTokenRequests, 1);

    harness.clock.advance(1 * SECOND);
    const replaced = served(await requestToken(harness));
    assert.equal(replaced.fromCache, false, `replaced with ${marginSeconds - 1} s left`);
    assert.notEqual(replaced.accessToken, first.accessToken);
    assert.equal(replaced.expiresIn, lifetimeSeconds);
    assert.equal(harness.fake.totalTokenRequests, 2);

    // The replacement is cached in turn.
    const again = served(await requestToken(harness));
    assert.equal(again.fromCache, true);
    assert.equal(again.accessToken, replaced.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 2);

    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
    for (const token of [first.accessToken, replaced.accessToken]) {
      assert.equal(
        harness.logs.some((line) => line.includes(token)),
        false,
      );
    }
  } finally {
    await harness.close();
  }
}

describe("replacement at the margin, through the service", () => {
  test("default margin, 3600 s token: served until 360 s remain, replaced after", async () => {
    await assertReplacedAtMargin({}, 3600, 360);
  });

  test("default margin, 300 s token: served until 60 s remain, replaced after", async () => {
    await assertReplacedAtMargin({ fake: { lifetimeSeconds: 300 } }, 300, 60);
  });

  test("default margin, 86400 s token: 10 % is 8640 s", async () => {
    await assertReplacedAtMargin({ fake: { lifetimeSeconds: 86_400 } }, 86_400, 8640);
  });

  test("TOKEN_REFRESH_MARGIN_SECONDS raises the floor", async () => {
    await assertReplacedAtMargin({ env: { TOKEN_REFRESH_MARGIN_SECONDS: "600" } }, 3600, 600);
  });

  test("TOKEN_REFRESH_MARGIN_RATIO changes the share of the lifetime", async () => {
    await assertReplacedAtMargin({ env: { TOKEN_REFRESH_MARGIN_RATIO: "0.2" } }, 3600, 720);
  });

  test("both at zero: a token is served until its very last second", async () => {
    await assertReplacedAtMargin(
      { env: { TOKEN_REFRESH_MARGIN_SECONDS: "0", TOKEN_REFRESH_MARGIN_RATIO: "0" } },
      3600,
      1,
    );
  });
});

test("a minValidity longer than any token lives is met by a recent token, not by refetching every time", () => {
  const issuedAtMs = 1_000_000;
  const token = {
    accessToken: "t",
    tokenType: "Bearer",
    issuedAtMs,
    expiresAtMs: issuedAtMs + 3_600_000,
    scopes: [],
    defaultStorage: null,
  };
  const margin = { minSeconds: 60, ratio: 0.1 };
  // Within the first margin (360 s) of its life the token is as good as a fresh one could be.
  assert.equal(isUsable(token, issuedAtMs + 300_000, margin, 86_400), true);
  // Past it, a fresh token would last longer, so the cached one is replaced.
  assert.equal(isUsable(token, issuedAtMs + 400_000, margin, 86_400), false);
  // A reachable minValidity keeps its exact meaning.
  assert.equal(isUsable(token, issuedAtMs + 1_500_000, margin, 2_000), true);
  assert.equal(isUsable(token, issuedAtMs + 1_700_000, margin, 2_000), false);
});
