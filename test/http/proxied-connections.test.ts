/**
 * Behind a gateway every connection comes from a few proxy addresses. TRUSTED_PROXIES' connections are
 * never limited by the proxy's own address; with TRUSTED_PROXY_CONNECTIONS=forwarded each request
 * counts against the client address the proxy forwarded, so one client of the gateway cannot take
 * every connection through it, and with `exempt` they are not counted at all.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { type Harness, harnessFor } from "../support/harness.js";
import { errorCodes, postHead, RawConnection } from "../support/raw-connection.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 20_000 };

const PROXY = "127.0.0.2";
const LIMIT = 2;
const ENV = {
  TRUSTED_PROXIES: PROXY,
  MAX_CONNECTIONS_PER_ADDRESS: String(LIMIT),
  // Slow bodies stay held for the test: only the per-address limit is at work.
  REQUEST_BODY_MIN_BYTES_PER_SECOND: "0",
  REQUEST_TIMEOUT_MS: "300000",
};

const DECLARED = 256;
const STARTED = '{"query":"';
/** What finishes a started body: valid JSON, padded to the declared length. */
const FINISH = '{ __typename }"}'.padEnd(DECLARED - STARTED.length, " ");

/** A request through the proxy for `client`, whose body is not finished until the test says. */
function slowUploadFor(harness: Harness, client: string): Promise<RawConnection> {
  return RawConnection.sending(
    Number(new URL(harness.origin).port),
    postHead(DECLARED, { "x-forwarded-for": client }) + STARTED,
    PROXY,
  );
}

/** A whole request through the proxy for `client`; resolves with the answer's status and code. */
async function askFor(harness: Harness, client: string): Promise<{ status: string; codes: string[] }> {
  const connection = await RawConnection.sending(
    Number(new URL(harness.origin).port),
    `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: ${client}\r\n\r\n`,
    PROXY,
  );
  const [status = ""] = await connection.answers(1);
  connection.destroy();
  return { status, codes: errorCodes(connection.received) };
}

test(
  "forwarded: a client holding MAX_CONNECTIONS_PER_ADDRESS requests through the proxy is refused 429 TOO_MANY_CONNECTIONS; other clients and the proxy's own connections are not",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, { env: { ...ENV, TRUSTED_PROXY_CONNECTIONS: "forwarded" } });
    const held = await Promise.all(
      Array.from({ length: LIMIT }, () => slowUploadFor(harness, "203.0.113.9")),
    );
    t.after(() => {
      for (const connection of held) connection.destroy();
    });
    // More connections from the proxy than the limit are open: its own address is not limited.
    const refused = await askFor(harness, "203.0.113.9");
    assert.deepEqual(refused, { status: "429", codes: ["TOO_MANY_CONNECTIONS"] });
    assert.deepEqual(await askFor(harness, "203.0.113.10"), { status: "200", codes: [] });
    // The refused client's room comes back when one of its requests is answered.
    const [first] = held;
    assert.ok(first !== undefined);
    await first.write(FINISH);
    assert.deepEqual(await first.answers(1), ["200"]);
    assert.deepEqual(await askFor(harness, "203.0.113.9"), { status: "200", codes: [] });
  },
);

test("exempt: requests through a trusted proxy are not counted at all", BOUNDED, async (t) => {
  const harness = await harnessFor(t, { env: { ...ENV, TRUSTED_PROXY_CONNECTIONS: "exempt" } });
  const held = await Promise.all(
    Array.from({ length: LIMIT + 1 }, () => slowUploadFor(harness, "203.0.113.9")),
  );
  t.after(() => {
    for (const connection of held) connection.destroy();
  });
  assert.deepEqual(await askFor(harness, "203.0.113.9"), { status: "200", codes: [] });
});
