/**
 * The token cache through the real service: real GraphQL over HTTP, the fake Aspose on loopback and one
 * TestClock shared by both. Time only moves when a test moves it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeJwtClaims } from "../../dev/fake-aspose.js";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  leakedSecrets,
  requestToken,
  served,
  startHarness,
  TestClock,
} from "../support/harness.js";

const WRONG_SECRET = "0a1b2c3d4e5f60718293a4b5c6d7e8f9";
const SECOND = 1000;

/** No secret in any log line or answer, and no token in any log line (answers carry tokens by design). */
function assertNothingLeaked(harness: Harness, tokens: readonly string[]): void {
  assert.ok(harness.logs.length > 0, "the service wrote no log lines: the leak check would prove nothing");
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET, WRONG_SECRET]), []);
  for (const token of tokens) {
    assert.equal(
      harness.logs.some((line) => line.includes(token)),
      false,
      "an access token was written to the logs",
    );
  }
}

test("a second request is served from the cache, with expiresIn counting down", async (t) => {
  const harness = await startHarness();
  t.after(() => harness.close());

  const first = served(await requestToken(harness));
  assert.equal(first.fromCache, false);
  assert.equal(first.expiresIn, 3600);
  assert.equal(harness.fake.totalTokenRequests, 1);

  const second = served(await requestToken(harness));
  assert.equal(second.fromCache, true);
  assert.equal(second.accessToken, first.accessToken);
  assert.equal(second.expiresIn, 3600);

  harness.clock.advance(1000 * SECOND);
  const third = served(await requestToken(harness));
  assert.equal(third.fromCache, true);
  assert.equal(third.accessToken, first.accessToken);
  assert.equal(third.expiresIn, 2600);
  assert.equal(third.expiresAt, first.expiresAt);

  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.equal(harness.fake.countFor(CLIENT_ID), 1);
  assertNothingLeaked(harness, [first.accessToken]);
});

test("validity is counted from when the upstream request was sent, not when it was answered", async (t) => {
  const harness = await startHarness();
  t.after(() => harness.close());
  const sentAt = harness.clock.now();

  const release = harness.fake.hold();
  const pending = requestToken(harness);
  await harness.fake.waitForRequests(1);
  // Aspose takes 30 s to answer: those 30 s are already gone from the token's life.
  harness.clock.advance(30 * SECOND);
  release();
  const token = served(await pending);

  assert.equal(harness.fake.requests[0]?.at, sentAt);
  assert.equal(Date.parse(token.issuedAt), sentAt);
  assert.equal(Date.parse(token.expiresAt), sentAt + 3600 * SECOND);
  assert.equal(token.expiresIn, 3570);
  // The JWT was minted at answer time, so its exp is later and is not what bounded the validity here.
  const exp = decodeJwtClaims(token.accessToken).exp;
  assert.equal(typeof exp, "number");
  assert.ok(Number(exp) * SECOND > sentAt + 3600 * SECOND);
  assertNothingLeaked(harness, [token.accessToken]);
});

test("validity never outlasts the JWT exp when Aspose's clock is behind", async (t) => {
  const clock = new TestClock();
  // Aspose's clock runs 120 s behind ours: its exp lands before sent + expires_in.
  const harness = await startHarness({ clock, fake: { now: () => clock.now() - 120 * SECOND } });
  t.after(() => harness.close());
  const sentAt = clock.now();

  const release = harness.fake.hold();
  const pending = requestToken(harness);
  await harness.fake.waitForRequests(1);
  clock.advance(30 * SECOND);
  release();
  const token = served(await pending);

  const exp = Number(decodeJwtClaims(token.accessToken).exp);
  assert.equal(exp * SECOND, sentAt - 90 * SECOND + 3600 * SECOND);
  assert.ok(
    exp * SECOND < sentAt + 3600 * SECOND,
    "the fake must mint an exp earlier than sent + expires_in",
  );
  assert.equal(Date.parse(token.issuedAt), sentAt);
  assert.equal(Date.parse(token.expiresAt), exp * SECOND);
  assert.equal(token.expiresIn, 3480);

  // The cap also drives replacement: 350 s before exp is inside the 360 s margin, although by
  // expires_in alone 440 s would remain and the token would still be served.
  clock.advance(3130 * SECOND);
  const later = served(await requestToken(harness));
  assert.equal(later.fromCache, false);
  assert.notEqual(later.accessToken, token.accessToken);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assertNothingLeaked(harness, [token.accessToken, later.accessToken]);
});

test("minValidity: a cached token that cannot cover it is replaced, one that can is served", async (t) => {
  const harness = await startHarness();
  t.after(() => harness.close());

  const first = served(await requestToken(harness));
  harness.clock.advance(2600 * SECOND); // 1000 s left, outside the 360 s refresh margin

  const lenient = served(await requestToken(harness, { minValidity: 500 }));
  assert.equal(lenient.fromCache, true);
  assert.equal(lenient.accessToken, first.accessToken);
  assert.equal(lenient.expiresIn, 1000);

  const exact = served(await requestToken(harness, { minValidity: 1000 }));
  assert.equal(exact.fromCache, true);
  assert.equal(harness.fake.totalTokenRequests, 1);

  const strict = served(await requestToken(harness, { minValidity: 2000 }));
  assert.equal(strict.fromCache, false);
  assert.notEqual(strict.accessToken, first.accessToken);
  assert.equal(strict.expiresIn, 3600);
  assert.equal(harness.fake.totalTokenRequests, 2);

  // The fresh token took the old one's place.
  const plain = served(await requestToken(harness));
  assert.equal(plain.fromCache, true);
  assert.equal(plain.accessToken, strict.accessToken);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assertNothingLeaked(harness, [first.accessToken, strict.accessToken]);
});

test("forceRefresh fetches even with a fresh cached token, and the new token replaces it", async (t) => {
  const harness = await startHarness();
  t.after(() => harness.close());

  const first = served(await requestToken(harness));
  // Tokens minted in the same second are identical upstream; move on so the new one is distinguishable.
  harness.clock.advance(10 * SECOND);

  const forced = served(await requestToken(harness, { forceRefresh: true }));
  assert.equal(forced.fromCache, false);
  assert.notEqual(forced.accessToken, first.accessToken);
  assert.equal(forced.expiresIn, 3600);
  assert.equal(harness.fake.totalTokenRequests, 2);

  const next = served(await requestToken(harness));
  assert.equal(next.fromCache, true);
  assert.equal(next.accessToken, forced.accessToken);
  assert.equal(next.expiresAt, forced.expiresAt);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assertNothingLeaked(harness, [first.accessToken, forced.accessToken]);
});

test("a wrong secret is checked upstream despite a cached token, which stays served to the right one", async (t) => {
  const harness = await startHarness();
  t.after(() => harness.close());

  const first = served(await requestToken(harness));
  assert.equal(harness.fake.totalTokenRequests, 1);

  const wrong = await requestToken(harness, { clientSecret: WRONG_SECRET });
  assert.equal(wrong.data?.accessToken ?? null, null);
  assert.equal(wrong.errors?.length, 1);
  assert.equal(wrong.errors?.[0]?.extensions?.code, "INVALID_CREDENTIALS");
  assert.equal(harness.fake.totalTokenRequests, 2);
  assert.equal(harness.fake.requests[1]?.form?.client_secret, WRONG_SECRET);

  const right = served(await requestToken(harness));
  assert.equal(right.fromCache, true);
  assert.equal(right.accessToken, first.accessToken);
  assert.equal(harness.fake.totalTokenRequests, 2);
  assertNothingLeaked(harness, [first.accessToken]);
});
