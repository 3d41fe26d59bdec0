/**
 * `rejectedToken`: a caller reports the token Aspose refused, through the real service over real HTTP
 * with the real GraphQL client and the fake Aspose. The cached token, reported, is replaced once for
 * every concurrent reporter; any other token (a newer one is cached, or it was never issued) costs no
 * upstream call; a hostile value is refused before any I/O; the reported token is never logged.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  CLIENT_SECRET,
  type ExecuteResult,
  type Harness,
  harnessFor,
  leakedSecrets,
  reportRejected,
  requestToken,
  served,
  tokensInLogs,
} from "../support/harness.js";

/**
 * The fake signs deterministically: a token fetched at the same clock instant for the same credentials
 * is the same text. A second on, a replacement is told apart from the token it replaced.
 */
function laterOn(harness: Harness): void {
  harness.clock.advance(1000);
}

/**
 * Waits for `reached` while the upstream is held; if every report is answered first (none waited for
 * Aspose: refused, or the argument unknown), fails at once instead of waiting forever.
 */
async function reachedWhileHeld(reached: Promise<unknown>, reports: Promise<unknown>[]): Promise<void> {
  let done = false;
  const answeredFirst = Promise.allSettled(reports).then(() => {
    if (!done) throw new Error("every report was answered without waiting for the held upstream");
  });
  await Promise.race([reached, answeredFirst]);
  done = true;
}

function codeOf(result: ExecuteResult<unknown>): unknown {
  return result.errors?.[0]?.extensions?.code;
}

describe("a reported token that is the cached one", () => {
  test("20 concurrent reporters: the entry is replaced by one upstream call, all get the new token", async (t) => {
    const harness = await harnessFor(t);
    const { fake, store } = harness;
    const first = served(await requestToken(harness));
    assert.equal(fake.totalTokenRequests, 1);
    laterOn(harness);

    const release = fake.hold();
    const lookupsBefore = store.count;
    const reports = Array.from({ length: 20 }, () => reportRejected(harness, first.accessToken));
    // Every reporter has looked the cache up (and found the rejected token) before Aspose answers.
    await reachedWhileHeld(
      Promise.all([store.entered(lookupsBefore + 20), fake.waitForRequests(2)]),
      reports,
    );
    release();
    const answers = (await Promise.all(reports)).map(served);

    assert.equal(fake.totalTokenRequests, 2, "one upstream call for 20 reporters");
    const replacement = answers[0]?.accessToken;
    assert.ok(replacement !== undefined && replacement !== first.accessToken, "a new token");
    for (const answer of answers) {
      assert.equal(answer.accessToken, replacement);
      assert.equal(answer.fromCache, false);
      assert.equal(answer.stale, false);
    }
    // Cached for everyone else.
    const next = served(await requestToken(harness));
    assert.equal(next.accessToken, replacement);
    assert.equal(next.fromCache, true);
    assert.equal(fake.totalTokenRequests, 2);
    assert.deepEqual(tokensInLogs(harness, [first.accessToken, replacement]), []);
  });

  test("reporting the same token twice fetches once: the second time the newer token is returned, no call", async (t) => {
    const harness = await harnessFor(t);
    const first = served(await requestToken(harness));
    laterOn(harness);
    const replaced = served(await reportRejected(harness, first.accessToken));
    assert.notEqual(replaced.accessToken, first.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 2);

    for (let again = 0; again < 5; again++) {
      const answer = served(await reportRejected(harness, first.accessToken));
      assert.equal(answer.accessToken, replaced.accessToken, "the newer cached token");
      assert.equal(answer.fromCache, true);
    }
    assert.equal(harness.fake.totalTokenRequests, 2, "no upstream call for an already replaced token");
  });

  test("a token issued moments ago is still replaced when reported: not bounded like forceRefresh", async (t) => {
    const harness = await harnessFor(t);
    const first = served(await requestToken(harness));
    // Within FORCE_REFRESH_MIN_INTERVAL_SECONDS a forced refresh returns the same token.
    assert.equal(served(await requestToken(harness, { forceRefresh: true })).accessToken, first.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 1);
    laterOn(harness);
    const replaced = served(await reportRejected(harness, first.accessToken));
    assert.notEqual(replaced.accessToken, first.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 2);
  });

  test("when Aspose fails the replacement, the rejected token is not served stale: the error is", async (t) => {
    const harness = await harnessFor(t);
    const first = served(await requestToken(harness));
    harness.fake.setFault({ kind: "status", status: 503 });
    laterOn(harness);
    const answer = await reportRejected(harness, first.accessToken);
    assert.equal(codeOf(answer), "UPSTREAM_UNAVAILABLE");
    assert.equal(harness.responses.at(-1)?.includes(first.accessToken), false);
    // The rejected token was evicted: it is not served to anyone else either.
    const other = await requestToken(harness);
    assert.equal(codeOf(other), "UPSTREAM_UNAVAILABLE");
    harness.fake.setFault(undefined);
    assert.notEqual(served(await requestToken(harness)).accessToken, first.accessToken);
  });
});

describe("a reported token that is not the cached one", () => {
  test("a token never issued for these credentials: the cached token, no upstream call", async (t) => {
    const harness = await harnessFor(t);
    const first = served(await requestToken(harness));
    // Well-formed tokens: a JWT of another issuer, a changed signature, an opaque string.
    const [header, payload, signature = ""] = first.accessToken.split(".");
    const foreign = [
      "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
      `${header}.${payload}.${signature.slice(0, -2)}AA`,
      "x".repeat(16_384),
      "garbage",
    ];
    for (const token of foreign) {
      const answer = served(await reportRejected(harness, token));
      assert.equal(answer.accessToken, first.accessToken);
      assert.equal(answer.fromCache, true);
    }
    assert.equal(
      harness.fake.totalTokenRequests,
      1,
      "no upstream call for a token that is not the cached one",
    );
  });

  test("nothing cached: a report is a normal request, one upstream call", async (t) => {
    const harness = await harnessFor(t);
    const answer = served(await reportRejected(harness, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"));
    assert.equal(answer.fromCache, false);
    assert.equal(harness.fake.totalTokenRequests, 1);
  });

  test("a token of other credentials does not replace these credentials' token", async (t) => {
    const harness = await harnessFor(t);
    const otherId = "7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f";
    const otherSecret = "1f2e3d4c5b6a79880a9b8c7d6e5f4a3b";
    harness.fake.addClient(otherId, otherSecret);
    const mine = served(await requestToken(harness));
    const theirs = served(await requestToken(harness, { clientId: otherId, clientSecret: otherSecret }));
    const answer = served(await reportRejected(harness, theirs.accessToken));
    assert.equal(answer.accessToken, mine.accessToken);
    assert.equal(harness.fake.totalTokenRequests, 2);
  });
});

describe("hostile rejectedToken values", () => {
  for (const [label, value] of [
    ["empty", ""],
    ["longer than 16 KiB", "a".repeat(16_385)],
    ["with a line break", 'eyJhbGciOi.payload\n{"level":50}'],
    ["with a NUL", "token\u0000more"],
    ["with spaces", "Bearer eyJhbGciOi.x.y"],
    ["non-ASCII", "tökén"],
    ["a lone surrogate", "tok\ud800en"],
  ] as const) {
    test(`${label}: BAD_USER_INPUT, not echoed, nothing sent upstream`, async (t) => {
      const harness = await harnessFor(t);
      const answer = await reportRejected(harness, value);
      assert.equal(codeOf(answer), "BAD_USER_INPUT");
      assert.equal(answer.errors?.[0]?.extensions?.argumentName, "rejectedToken");
      assert.equal(harness.fake.totalTokenRequests, 0);
      if (value.length > 0) {
        assert.deepEqual(leakedSecrets(harness, [value, CLIENT_SECRET]), []);
      }
    });
  }
});
