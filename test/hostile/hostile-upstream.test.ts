/**
 * The real service over real HTTP, pointed at a hostile upstream on loopback (dev/hostile-upstream.ts):
 * every hostile answer becomes UPSTREAM_BAD_RESPONSE within a time bound, with memory flat, nothing
 * refused is cached, and the service serves a real token the moment the upstream behaves again.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import { type HostileAnswer, HostileUpstream, tokenBody } from "../../dev/hostile-upstream.js";
import { CLIENT_SECRET, harnessFor, leakedSecrets, requestToken, TestClock } from "../support/harness.js";

const MiB = 1024 * 1024;
const RSS_BOUND_BYTES = 64 * MiB;

async function pointedAtHostile(t: TestContext) {
  const upstream = await HostileUpstream.start();
  t.after(() => upstream.close());
  // A clock that follows real time, so lifetimes from the upstream and the service agree.
  const clock = new TestClock(Date.now());
  const harness = await harnessFor(t, { clock, env: { ASPOSE_BASE_URL: upstream.url } });
  return { upstream, harness };
}

for (const { name, answer } of [
  { name: "a 1 GiB gzip bomb", answer: { kind: "gzipBomb", inflatedBytes: 1024 * MiB } },
  { name: "an endless body", answer: { kind: "endless" } },
  { name: "a 64 MiB body holding a valid token", answer: { kind: "huge", bytes: 64 * MiB } },
  { name: "a 302 carrying a token", answer: { kind: "json", status: 302, body: tokenBody() } },
  { name: "expires_in 2^31", answer: { kind: "json", body: tokenBody({ expiresIn: 2 ** 31 }) } },
  { name: "expires_in 1", answer: { kind: "json", body: tokenBody({ expiresIn: 1 }) } },
  {
    name: "an already expired JWT",
    answer: { kind: "json", body: tokenBody({ expiresIn: 3600, exp: Math.floor(Date.now() / 1000) - 60 }) },
  },
] satisfies { name: string; answer: HostileAnswer }[]) {
  test(`${name}: UPSTREAM_BAD_RESPONSE in bounded time and memory, never cached`, async (t) => {
    const { upstream, harness } = await pointedAtHostile(t);
    upstream.setAnswer(answer);
    const rssBefore = process.memoryUsage().rss;
    const started = performance.now();
    const refused = await requestToken(harness);
    const ms = performance.now() - started;
    const rssGrowth = process.memoryUsage().rss - rssBefore;
    t.diagnostic(`${name}: answered in ${Math.round(ms)} ms, RSS +${(rssGrowth / MiB).toFixed(1)} MiB`);
    assert.equal(refused.errors?.[0]?.extensions?.code, "UPSTREAM_BAD_RESPONSE", JSON.stringify(refused));
    assert.ok(ms < 2000, `answered in ${ms} ms`);
    assert.ok(rssGrowth < RSS_BOUND_BYTES, `RSS grew by ${rssGrowth} bytes`);
    // The same refusal again, and no token from it was kept: each call asks the upstream.
    const again = await requestToken(harness);
    assert.equal(again.errors?.[0]?.extensions?.code, "UPSTREAM_BAD_RESPONSE");
    assert.equal(upstream.requests, 2);
    // Once the upstream behaves, the next call is served.
    upstream.setAnswer({ kind: "json", body: tokenBody() });
    const served = await requestToken(harness);
    assert.equal(served.errors, undefined, JSON.stringify(served.errors));
    assert.equal(served.data?.accessToken.fromCache, false);
    assert.ok((served.data?.accessToken.expiresIn ?? 0) > 3500);
    assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
  });
}
