/**
 * Body memory under a flood of uploads: bodies still arriving hold at most REQUEST_BODY_BUDGET_BYTES
 * together, as the service counts them (`http_request_body_bytes`); an upload that does not fit is
 * answered 503 SERVER_BUSY before any of it is read, and its connection closed, while small bodies
 * (any token request) are never refused. Room given back is given to the next upload.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { harnessFor, requestToken } from "../support/harness.js";
import { errorCodes, postHead, RawConnection, sample } from "../support/raw-connection.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 20_000 };

const LIMIT = 16_384;
const DECLARED = 16_000;
const BUDGET = 65_536;
/** Bodies of DECLARED bytes that fit in the budget together. */
const FITS = Math.floor(BUDGET / DECLARED);

/** A JSON body of exactly `length` bytes that Apollo answers (it asks for `__typename`). */
function bodyOf(length: number): string {
  const frame = '{"query":"{ __typename }","extensions":{"pad":""}}';
  return frame.replace('"pad":""', `"pad":"${"p".repeat(length - frame.length)}"`);
}

const ENV = {
  REQUEST_BODY_LIMIT_BYTES: String(LIMIT),
  REQUEST_BODY_BUDGET_BYTES: String(BUDGET),
  // Held uploads stay held for the test: only the budget is at work.
  REQUEST_BODY_MIN_BYTES_PER_SECOND: "0",
  REQUEST_TIMEOUT_MS: "300000",
};

async function metrics(origin: string): Promise<string> {
  return (await fetch(`${origin}/metrics`)).text();
}

test(
  "uploads past REQUEST_BODY_BUDGET_BYTES are answered 503 SERVER_BUSY and closed; the bodies held never pass the budget",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, { env: ENV });
    const port = Number(new URL(harness.origin).port);
    const body = bodyOf(DECLARED);
    // Twelve uploads each one byte short of done, from several addresses: the budget is the only
    // bound at work, not the per-address limit.
    const uploads = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        RawConnection.sending(port, postHead(DECLARED) + body.slice(0, -1), `127.0.0.${2 + (i % 4)}`),
      ),
    );
    t.after(() => {
      for (const upload of uploads) upload.destroy();
    });
    const refused = uploads.length - FITS;
    // The refused ones end by themselves; the ones that fit stay open, holding their bodies.
    let ended = 0;
    await new Promise<void>((resolve) => {
      for (const upload of uploads)
        void upload.closed.then(() => {
          ended += 1;
          if (ended === refused) resolve();
        });
    });
    const busy = uploads.filter((upload) => upload.socket.closed);
    for (const upload of busy) {
      assert.match(upload.received, /^HTTP\/1\.1 503 /);
      assert.match(upload.received, /\r\nretry-after: 1\r\n/i);
      assert.match(upload.received, /\r\nconnection: close\r\n/i);
      assert.deepEqual(errorCodes(upload.received), ["SERVER_BUSY"]);
      assert.ok(upload.endedByService);
    }
    let exposition = await metrics(harness.origin);
    assert.equal(sample(exposition, "http_request_body_bytes"), FITS * DECLARED);
    assert.equal(sample(exposition, 'http_connections_shed_total{reason="body_budget"}'), refused);
    // A token request is small: the full budget never makes it wait.
    assert.equal((await requestToken(harness)).errors, undefined);

    // One held upload finishes: it is answered, and its room goes to the next upload.
    const held = uploads.filter((upload) => !upload.socket.closed);
    assert.equal(held.length, FITS);
    const [first] = held;
    assert.ok(first !== undefined);
    await first.write(body.slice(-1));
    assert.deepEqual(await first.answers(1), ["200"]);
    assert.match(first.received, /"__typename":"Query"/);
    const next = await RawConnection.sending(port, postHead(DECLARED) + body, "127.0.0.9");
    t.after(() => next.destroy());
    assert.deepEqual(await next.answers(1), ["200"]);

    exposition = await metrics(harness.origin);
    assert.equal(sample(exposition, "http_request_body_bytes"), (FITS - 1) * DECLARED);
    assert.ok(
      harness.logs.some((line) => line.includes("Request body budget full")),
      "the refusals were logged",
    );
  },
);

test(
  "a body without a declared length counts as it grows: one that outgrows the budget is answered 503 SERVER_BUSY",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, { env: { ...ENV, REQUEST_BODY_BUDGET_BYTES: String(LIMIT) } });
    const port = Number(new URL(harness.origin).port);
    const chunked =
      "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    const chunk = (text: string): string => `${text.length.toString(16)}\r\n${text}\r\n`;
    // The first body takes half the budget, a byte at a time: held as its bytes, in one buffer.
    const growing = await RawConnection.sending(port, chunked);
    t.after(() => growing.destroy());
    await growing.write(Array.from({ length: LIMIT / 2 }, () => chunk("a")).join(""));
    // The second one outgrows what is left.
    const second = await RawConnection.sending(port, chunked + chunk("b".repeat(LIMIT / 2 + 1)));
    t.after(() => second.destroy());
    await second.closed;
    assert.match(second.received, /^HTTP\/1\.1 503 /);
    assert.deepEqual(errorCodes(second.received), ["SERVER_BUSY"]);
    const exposition = await metrics(harness.origin);
    assert.equal(sample(exposition, "http_request_body_bytes"), LIMIT / 2);
    assert.ok(!growing.socket.closed, "the first body is still being received");
  },
);
