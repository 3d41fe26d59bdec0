/**
 * Brute-force lockout, end to end: the real service over real HTTP, the fake Aspose counting every
 * attempt that reaches it, and a TestClock that only moves when a test moves it.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  ACCESS_TOKEN_MUTATION,
  answeredTokens,
  assertKeysRedacted,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  type HarnessOptions,
  leakedSecrets,
  post,
  startHarness,
} from "../support/harness.js";

const THRESHOLD = 5;
const ADDRESS_THRESHOLD = 4 * THRESHOLD;
const BASE_SECONDS = 30;
const WINDOW_SECONDS = 900;
// These tests are about the per-clientId and per-address rules, which bursts of guesses under a still
// clock exercise; the guess budget all unverified attempts share would refuse those bursts first. It
// has its own tests (guess-budget.test.ts).
const PER_SUBJECT_ONLY = { UPSTREAM_GUESS_BUDGET_PER_SECOND: "1000" };

interface Guess {
  readonly status: number;
  readonly code: string | undefined;
  readonly retryAfter: number | undefined;
  readonly token: string | undefined;
  /** The error as the client saw it, for comparing two refusals. */
  readonly error: unknown;
  readonly text: string;
}

/** One accessToken request over raw HTTP, so tests can set X-Forwarded-For. */
function guess(
  harness: Harness,
  clientId: string,
  clientSecret: string,
  forwardedFor?: string,
): Promise<Guess> {
  return guessFrom(harness, undefined, clientId, clientSecret, forwardedFor);
}

/** As guess(), sent from another loopback address (127.0.0.2 ...) when `from` is given. */
async function guessFrom(
  harness: Harness,
  from: string | undefined,
  clientId: string,
  clientSecret: string,
  forwardedFor?: string,
): Promise<Guess> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (forwardedFor !== undefined) headers["x-forwarded-for"] = forwardedFor;
  const reply = await post(
    harness,
    JSON.stringify({ query: ACCESS_TOKEN_MUTATION, variables: { clientId, clientSecret } }),
    headers,
    "/graphql",
    from === undefined ? {} : { localAddress: from },
  );
  const body = JSON.parse(reply.text) as {
    data?: { accessToken?: { accessToken?: string } } | null;
    errors?: { extensions?: { code?: string; retryAfter?: number } }[];
  };
  const error = body.errors?.[0];
  return {
    status: reply.status,
    code: error?.extensions?.code,
    retryAfter: error?.extensions?.retryAfter,
    token: body.data?.accessToken?.accessToken ?? undefined,
    error,
    text: reply.text,
  };
}

function wrongSecret(n: number): string {
  return `wrong-secret-${String(n).padStart(4, "0")}-0123456789abcdef`;
}

const SENSITIVE_KEYS = new Set([
  "clientSecret",
  "client_secret",
  "variables",
  "authorization",
  "accessToken",
]);

/** No secret or token in any log line, and any sensitive key that does appear is censored. */
function assertLogsClean(harness: Harness, secrets: readonly string[]): void {
  const needles = [...secrets, ...answeredTokens(harness)];
  for (const line of harness.logs) {
    for (const needle of needles) assert.ok(!line.includes(needle), `log line leaks a secret: ${line}`);
    assertKeysRedacted(line, SENSITIVE_KEYS);
  }
  assert.deepEqual(leakedSecrets(harness, secrets), []);
  for (const text of harness.responses) {
    assert.doesNotMatch(text, /stack|INTERNAL_SERVER_ERROR|node_modules|invalid_client/, text.slice(0, 300));
  }
}

/** Runs `body` against a fresh harness (each test gets its own counters and address) and closes it. */
async function withHarness(
  options: HarnessOptions,
  body: (harness: Harness) => Promise<void>,
  secrets: readonly string[] = [],
): Promise<void> {
  const harness = await startHarness({ ...options, env: { ...PER_SUBJECT_ONLY, ...options.env } });
  try {
    await body(harness);
    assertLogsClean(harness, [CLIENT_SECRET, ...secrets]);
  } finally {
    await harness.close();
  }
}

/** Resolves once `ready()` holds, re-checked whenever `poke` is called; never polls on a timer. */
function when(ready: () => boolean): { poke: () => void; reached: Promise<void> } {
  let resolve = (): void => {};
  const reached = new Promise<void>((r) => {
    resolve = r;
  });
  const poke = (): void => {
    if (ready()) resolve();
  };
  return { poke, reached };
}

test("40 sequential wrong guesses reach Aspose only THRESHOLD times, then TOO_MANY_ATTEMPTS", async () => {
  const secrets = Array.from({ length: 40 }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      const answers: Guess[] = [];
      for (const secret of secrets) answers.push(await guess(harness, CLIENT_ID, secret));
      assert.ok(harness.fake.countFor(CLIENT_ID) <= 10);
      assert.equal(harness.fake.countFor(CLIENT_ID), THRESHOLD);
      assert.deepEqual(
        answers.slice(0, THRESHOLD).map((answer) => answer.code),
        Array(THRESHOLD).fill("INVALID_CREDENTIALS"),
      );
      for (const answer of answers.slice(THRESHOLD)) {
        assert.equal(answer.code, "TOO_MANY_ATTEMPTS", answer.text);
        assert.equal(answer.status, 200);
        assert.ok(answer.retryAfter !== undefined && answer.retryAfter > 0, answer.text);
        assert.equal(answer.retryAfter, BASE_SECONDS);
      }
      // The remaining time follows the injected clock.
      harness.clock.advance(10_000);
      assert.equal((await guess(harness, CLIENT_ID, wrongSecret(99))).retryAfter, BASE_SECONDS - 10);
      assert.equal(harness.fake.totalTokenRequests, THRESHOLD);
    },
    secrets,
  );
});

test("40 concurrent distinct wrong guesses reach Aspose at most THRESHOLD times", async () => {
  const secrets = Array.from({ length: 40 }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      const release = harness.fake.hold();
      let settled = 0;
      // Every guess either reached Aspose (and is held there) or was answered locally.
      const accounted = when(() => settled + harness.fake.totalTokenRequests >= secrets.length);
      harness.fake.on("request", accounted.poke);
      const pending = secrets.map((secret) =>
        guess(harness, CLIENT_ID, secret).finally(() => {
          settled += 1;
          accounted.poke();
        }),
      );
      await accounted.reached;
      const inFlight = harness.fake.totalTokenRequests;
      release();
      const answers = await Promise.all(pending);
      assert.ok(inFlight <= THRESHOLD, `${inFlight} attempts reached Aspose at once`);
      assert.ok(harness.fake.totalTokenRequests <= THRESHOLD);
      const invalid = answers.filter((answer) => answer.code === "INVALID_CREDENTIALS");
      const refused = answers.filter((answer) => answer.code === "TOO_MANY_ATTEMPTS");
      assert.equal(invalid.length, harness.fake.totalTokenRequests);
      assert.equal(invalid.length + refused.length, secrets.length);
      for (const answer of refused) assert.ok((answer.retryAfter ?? 0) > 0, answer.text);
      // The in-flight failures have now settled into a real lockout.
      const after = await guess(harness, CLIENT_ID, wrongSecret(99));
      assert.equal(after.code, "TOO_MANY_ATTEMPTS");
      assert.equal(after.retryAfter, BASE_SECONDS);
    },
    secrets,
  );
});

test("each further lockout doubles, up to LOCKOUT_MAX_SECONDS", async () => {
  const secrets: string[] = [];
  await withHarness(
    { env: { LOCKOUT_MAX_SECONDS: "100" } },
    async (harness) => {
      const seen: number[] = [];
      for (let round = 0; round < 4; round++) {
        for (let i = 0; i < THRESHOLD; i++) {
          const secret = wrongSecret(round * 100 + i);
          secrets.push(secret);
          assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
        }
        const locked = await guess(harness, CLIENT_ID, wrongSecret(999));
        assert.equal(locked.code, "TOO_MANY_ATTEMPTS");
        seen.push(locked.retryAfter ?? 0);
        // Past this lockout, but well inside the window: the strikes are remembered.
        harness.clock.advance(((locked.retryAfter ?? 0) + 1) * 1000);
      }
      assert.deepEqual(seen, [30, 60, 100, 100]);
      assert.equal(harness.fake.totalTokenRequests, 4 * THRESHOLD);
    },
    secrets,
  );
});

test("failures older than LOCKOUT_WINDOW_SECONDS are forgotten", async () => {
  const secrets = Array.from({ length: 20 }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      for (const secret of secrets.slice(0, THRESHOLD - 1)) {
        assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
      }
      harness.clock.advance((WINDOW_SECONDS + 1) * 1000);
      // Had the first failures been kept, the next one would lock and the one after be refused.
      for (const secret of secrets.slice(THRESHOLD - 1, 2 * THRESHOLD - 2)) {
        assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
      }
      assert.equal(harness.fake.totalTokenRequests, 2 * THRESHOLD - 2);
      // And within the window the count does add up to a lockout.
      assert.equal((await guess(harness, CLIENT_ID, secrets[10] ?? "")).code, "INVALID_CREDENTIALS");
      assert.equal((await guess(harness, CLIENT_ID, secrets[11] ?? "")).code, "TOO_MANY_ATTEMPTS");
    },
    secrets,
  );
});

test("past the window the owner gets a token, and the back-off starts over", async () => {
  const secrets = Array.from({ length: 2 * THRESHOLD }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      for (const secret of secrets.slice(0, THRESHOLD)) await guess(harness, CLIENT_ID, secret);
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).code, "TOO_MANY_ATTEMPTS");
      harness.clock.advance((WINDOW_SECONDS + 1) * 1000);
      // A lockout after a quiet window is a first lockout again, not a doubled one.
      for (const secret of secrets.slice(THRESHOLD)) {
        assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
      }
      const locked = await guess(harness, CLIENT_ID, wrongSecret(99));
      assert.equal(locked.code, "TOO_MANY_ATTEMPTS");
      assert.equal(locked.retryAfter, BASE_SECONDS);
      harness.clock.advance((WINDOW_SECONDS + 1) * 1000);
      const owner = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.equal(owner.code, undefined, owner.text);
      assert.ok(owner.token !== undefined && owner.token.length > 0);
    },
    secrets,
  );
});

test("a success resets the count for the clientId", async () => {
  const secrets = Array.from({ length: 2 * THRESHOLD }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      for (const secret of secrets.slice(0, THRESHOLD - 1)) {
        assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
      }
      const owner = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.equal(owner.code, undefined, owner.text);
      for (const secret of secrets.slice(THRESHOLD - 1, 2 * THRESHOLD - 1)) {
        assert.equal((await guess(harness, CLIENT_ID, secret)).code, "INVALID_CREDENTIALS");
      }
      assert.equal((await guess(harness, CLIENT_ID, wrongSecret(99))).code, "TOO_MANY_ATTEMPTS");
      assert.equal(harness.fake.totalTokenRequests, 2 * THRESHOLD);
    },
    secrets,
  );
});

test("a locked-out clientId refuses an unverified right secret exactly as a wrong one (no oracle)", async () => {
  const secrets = Array.from({ length: THRESHOLD }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      // The owner has never been served here: nothing tells its right secret from a guess but Aspose.
      for (const secret of secrets) await guess(harness, CLIENT_ID, secret);
      const right = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      const wrong = await guess(harness, CLIENT_ID, wrongSecret(99));
      assert.equal(right.code, "TOO_MANY_ATTEMPTS");
      assert.equal(right.token, undefined);
      // Right and wrong secrets get the very same answer while locked.
      assert.deepEqual(right.error, wrong.error);
      assert.equal(right.status, wrong.status);
      assert.equal(harness.fake.totalTokenRequests, THRESHOLD);
      // Once the lockout ends the owner is served, and from then on known-good: a new lockout of its
      // clientId no longer stops it.
      harness.clock.advance((BASE_SECONDS + 1) * 1000);
      const later = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.ok(later.token !== undefined, later.text);
      for (let i = 0; i < THRESHOLD; i++) await guess(harness, CLIENT_ID, wrongSecret(200 + i));
      assert.equal((await guess(harness, CLIENT_ID, wrongSecret(299))).code, "TOO_MANY_ATTEMPTS");
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).token, later.token);
    },
    [...secrets, ...Array.from({ length: THRESHOLD }, (_, i) => wrongSecret(200 + i))],
  );
});

test("a credential Aspose rejects loses its pass: a rotated secret is counted like any guess", async () => {
  await withHarness(
    {},
    async (harness) => {
      const first = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.ok(first.token !== undefined, first.text);
      // The secret is rotated at Aspose; the old one is refused on its next upstream attempt.
      harness.fake.addClient(CLIENT_ID, "rotated-secret-0123456789abcdef0123");
      harness.clock.advance(3_600_000);
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).code, "INVALID_CREDENTIALS");
      for (let i = 0; i < THRESHOLD; i++) await guess(harness, CLIENT_ID, wrongSecret(i));
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).code, "TOO_MANY_ATTEMPTS");
    },
    ["rotated-secret-0123456789abcdef0123"],
  );
});

test("a verifier lasts VERIFIER_TTL_SECONDS, or as long as the token it proved if longer", async () => {
  await withHarness(
    { env: { VERIFIER_TTL_SECONDS: "600" }, fake: { lifetimeSeconds: 1200 } },
    async (harness) => {
      const first = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.ok(first.token !== undefined, first.text);
      // Past the verifier lifetime, but the cached token (1200 s) still vouches for the credential.
      harness.clock.advance(700_000);
      for (let i = 0; i < THRESHOLD; i++) await guess(harness, CLIENT_ID, wrongSecret(i));
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).token, first.token);
      // Past both: the credential is unverified again and meets the lockout like anyone.
      harness.clock.advance(600_000);
      for (let i = 0; i < THRESHOLD; i++) await guess(harness, CLIENT_ID, wrongSecret(10 + i));
      assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).code, "TOO_MANY_ATTEMPTS");
    },
  );
});

test("many clientIds from one address are locked by the address threshold", async () => {
  await withHarness({}, async (harness) => {
    for (let i = 0; i < ADDRESS_THRESHOLD; i++) {
      const answer = await guess(harness, `unknown-client-${i}`, wrongSecret(i));
      assert.equal(answer.code, "INVALID_CREDENTIALS", `guess ${i}: ${answer.text}`);
    }
    const next = await guess(harness, "unknown-client-next", wrongSecret(0));
    assert.equal(next.code, "TOO_MANY_ATTEMPTS");
    assert.equal(next.retryAfter, BASE_SECONDS);
    // The address lock covers every clientId from it, the owner's included.
    assert.equal((await guess(harness, CLIENT_ID, CLIENT_SECRET)).code, "TOO_MANY_ATTEMPTS");
    assert.equal(harness.fake.totalTokenRequests, ADDRESS_THRESHOLD);
  });
});

test("once an address has failed, 40 concurrent guesses for distinct clientIds from it reach Aspose at most the address threshold", async () => {
  await withHarness({}, async (harness) => {
    assert.equal((await guess(harness, "burst-client-first", wrongSecret(99))).code, "INVALID_CREDENTIALS");
    harness.fake.resetCounters();
    const release = harness.fake.hold();
    let settled = 0;
    const accounted = when(() => settled + harness.fake.totalTokenRequests >= 40);
    harness.fake.on("request", accounted.poke);
    const pending = Array.from({ length: 40 }, (_, i) =>
      guess(harness, `burst-client-${i}`, wrongSecret(i)).finally(() => {
        settled += 1;
        accounted.poke();
      }),
    );
    await accounted.reached;
    release();
    const answers = await Promise.all(pending);
    assert.ok(harness.fake.totalTokenRequests <= ADDRESS_THRESHOLD - 1, `${harness.fake.totalTokenRequests}`);
    for (const answer of answers)
      assert.ok(["INVALID_CREDENTIALS", "TOO_MANY_ATTEMPTS"].includes(answer.code ?? ""));
  });
});

test("a clean address (a router, a NAT) gets 4 × threshold first exchanges through at once; known-good clients behind it are never held back", async () => {
  await withHarness({}, async (harness) => {
    for (let i = 0; i < 40; i++) harness.fake.addClient(`router-client-${i}`, `router-secret-${i}`);
    const release = harness.fake.hold();
    let settled = 0;
    const accounted = when(() => settled + harness.fake.totalTokenRequests >= 40);
    harness.fake.on("request", accounted.poke);
    const pending = Array.from({ length: 40 }, (_, i) =>
      guess(harness, `router-client-${i}`, `router-secret-${i}`).finally(() => {
        settled += 1;
        accounted.poke();
      }),
    );
    await accounted.reached;
    release();
    const answers = await Promise.all(pending);
    // Unverified attempts in flight count against the address from the first one (issue 11).
    const served = answers.filter((answer) => answer.code === undefined);
    const waiting = answers.filter((answer) => answer.code === "TOO_MANY_ATTEMPTS");
    assert.equal(served.length, ADDRESS_THRESHOLD);
    assert.equal(waiting.length, 40 - ADDRESS_THRESHOLD);
    for (const answer of waiting) assert.equal(answer.retryAfter, 1, answer.text);
    // A second later the rest get through; successes are no failures, so nothing is locked.
    harness.clock.advance(1000);
    for (const [i, answer] of answers.entries()) {
      if (answer.code !== undefined) {
        const retried = await guess(harness, `router-client-${i}`, `router-secret-${i}`);
        assert.equal(retried.code, undefined, retried.text);
      }
    }
    // All 40 are known-good now: 40 concurrent refreshes all reach Aspose.
    harness.fake.resetCounters();
    harness.clock.advance(3_600_000);
    const refreshes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => guess(harness, `router-client-${i}`, `router-secret-${i}`)),
    );
    assert.deepEqual(
      refreshes.map((answer) => answer.code),
      refreshes.map(() => undefined),
    );
    assert.equal(harness.fake.totalTokenRequests, 40);
  });
});

test("with TRUSTED_PROXIES, X-Forwarded-For tells addresses apart, but only its trusted entry and only from a trusted proxy", async () => {
  await withHarness({ env: { TRUSTED_PROXIES: "127.0.0.1" } }, async (harness) => {
    const attacker = "203.0.113.7";
    for (let i = 0; i < ADDRESS_THRESHOLD; i++) {
      assert.equal(
        (await guess(harness, `unknown-client-${i}`, wrongSecret(i), attacker)).code,
        "INVALID_CREDENTIALS",
      );
    }
    assert.equal(
      (await guess(harness, "unknown-client-x", wrongSecret(0), attacker)).code,
      "TOO_MANY_ATTEMPTS",
    );
    // The attacker prepends a forged entry; the proxy still appends the address it saw.
    const forged = await guess(harness, "unknown-client-y", wrongSecret(0), `198.51.100.1, ${attacker}`);
    assert.equal(forged.code, "TOO_MANY_ATTEMPTS");
    // Another client behind the same proxy is not affected.
    const owner = await guess(harness, CLIENT_ID, CLIENT_SECRET, "198.51.100.9");
    assert.equal(owner.code, undefined, owner.text);
    assert.ok(owner.token !== undefined);
    assert.equal(harness.fake.totalTokenRequests, ADDRESS_THRESHOLD + 1);
    // From a peer that is not a trusted proxy the header is ignored: its guesses count against its own
    // address whatever it claims, and a claimed clean address does not help it.
    for (let i = 0; i < ADDRESS_THRESHOLD; i++) {
      const claimed = await guessFrom(
        harness,
        "127.0.0.2",
        `direct-${i}`,
        wrongSecret(i),
        `192.0.2.${i + 1}`,
      );
      assert.equal(claimed.code, "INVALID_CREDENTIALS", claimed.text);
    }
    const claimed = await guessFrom(harness, "127.0.0.2", "direct-x", wrongSecret(0), "198.51.100.77");
    assert.equal(claimed.code, "TOO_MANY_ATTEMPTS");
    // ...and it cannot frame a forwarded client either: 198.51.100.9 was never charged.
    const framed = await guess(harness, "unknown-client-z", wrongSecret(1), "198.51.100.9");
    assert.equal(framed.code, "INVALID_CREDENTIALS");
  });
});

test("without TRUSTED_PROXIES, a forged X-Forwarded-For cannot dodge the address lockout", async () => {
  await withHarness({}, async (harness) => {
    for (let i = 0; i < ADDRESS_THRESHOLD; i++) {
      const answer = await guess(harness, `unknown-client-${i}`, wrongSecret(i), `192.0.2.${i + 1}`);
      assert.equal(answer.code, "INVALID_CREDENTIALS");
    }
    const next = await guess(harness, "unknown-client-next", wrongSecret(0), "192.0.2.200");
    assert.equal(next.code, "TOO_MANY_ATTEMPTS");
    assert.equal(harness.fake.totalTokenRequests, ADDRESS_THRESHOLD);
  });
});

test("an upstream outage does not count as a failed guess", async () => {
  // The breaker would open after five faults: this is about the lockout's accounting alone.
  await withHarness(
    { env: { ASPOSE_RETRY_LIMIT: "0", ASPOSE_BREAKER_THRESHOLD: "1000" } },
    async (harness) => {
      harness.fake.setFault({ kind: "status", status: 503 });
      for (let i = 0; i < 2 * THRESHOLD; i++) {
        assert.equal((await guess(harness, CLIENT_ID, wrongSecret(i))).code, "UPSTREAM_UNAVAILABLE");
      }
      harness.fake.setFault(undefined);
      const owner = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.equal(owner.code, undefined, owner.text);
    },
  );
});
