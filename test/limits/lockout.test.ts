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
async function guess(
  harness: Harness,
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
  const harness = await startHarness(options);
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

test("a locked-out clientId is refused even with the right secret and a cached token (no oracle)", async () => {
  const secrets = Array.from({ length: THRESHOLD }, (_, i) => wrongSecret(i));
  await withHarness(
    {},
    async (harness) => {
      const first = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.ok(first.token !== undefined);
      for (const secret of secrets) await guess(harness, CLIENT_ID, secret);
      const right = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      const wrong = await guess(harness, CLIENT_ID, wrongSecret(99));
      assert.equal(right.code, "TOO_MANY_ATTEMPTS");
      assert.equal(right.token, undefined);
      assert.ok(!right.text.includes(first.token));
      // Right and wrong secrets get the very same answer while locked.
      assert.deepEqual(right.error, wrong.error);
      assert.equal(right.status, wrong.status);
      assert.equal(harness.fake.totalTokenRequests, 1 + THRESHOLD);
      // Once the lockout ends the cached token is served again.
      harness.clock.advance((BASE_SECONDS + 1) * 1000);
      const later = await guess(harness, CLIENT_ID, CLIENT_SECRET);
      assert.equal(later.token, first.token);
      assert.equal(harness.fake.totalTokenRequests, 1 + THRESHOLD);
    },
    secrets,
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

test("a clean address (a router, a NAT) gets 40 concurrent cache misses for distinct clients through", async () => {
  await withHarness({}, async (harness) => {
    for (let i = 0; i < 40; i++) harness.fake.addClient(`router-client-${i}`, `router-secret-${i}`);
    const release = harness.fake.hold();
    const arrived = harness.fake.waitForRequests(40);
    const pending = Array.from({ length: 40 }, (_, i) =>
      guess(harness, `router-client-${i}`, `router-secret-${i}`),
    );
    await arrived;
    release();
    const answers = await Promise.all(pending);
    assert.deepEqual(
      answers.map((answer) => answer.code),
      answers.map(() => undefined),
    );
    assert.equal(harness.fake.totalTokenRequests, 40);
  });
});

test("with TRUST_PROXY_HOPS=1, X-Forwarded-For tells addresses apart, but only its trusted entry", async () => {
  await withHarness({ env: { TRUST_PROXY_HOPS: "1" } }, async (harness) => {
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
  });
});

test("with TRUST_PROXY_HOPS=0, a forged X-Forwarded-For cannot dodge the address lockout", async () => {
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
