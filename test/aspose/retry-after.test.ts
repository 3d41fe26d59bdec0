import assert from "node:assert/strict";
import { test } from "node:test";
import { retryAfterSeconds } from "../../src/aspose/retry-after.js";

test("retryAfterSeconds reads delta-seconds", () => {
  assert.equal(retryAfterSeconds("0"), 0);
  assert.equal(retryAfterSeconds("120"), 120);
  assert.equal(retryAfterSeconds(" 30 "), 30);
  assert.equal(retryAfterSeconds(["45", "90"]), 45);
  // A hostile or broken upstream cannot make callers wait for years.
  assert.equal(retryAfterSeconds("99999999999"), 86_400);
});

test("retryAfterSeconds reads an HTTP date relative to now, rounding up and never negative", () => {
  const now = Date.UTC(2026, 10, 25, 12, 0, 0);
  assert.equal(retryAfterSeconds("Wed, 25 Nov 2026 12:01:30 GMT", now), 90);
  assert.equal(retryAfterSeconds("Wed, 25 Nov 2026 12:00:00 GMT", now + 500), 0);
  assert.equal(retryAfterSeconds("Wed, 25 Nov 2026 12:00:01 GMT", now + 500), 1);
  assert.equal(retryAfterSeconds("Wed, 25 Nov 2026 11:00:00 GMT", now), 0);
  // The obsolete forms RFC 9110 still requires recipients to accept; asctime is UTC.
  assert.equal(retryAfterSeconds("Wednesday, 25-Nov-26 12:00:10 GMT", now), 10);
  const zone = process.env.TZ;
  // asctime must be read as UTC whatever the server's zone.
  process.env.TZ = "America/New_York";
  try {
    assert.equal(retryAfterSeconds("Wed Nov 25 12:00:20 2026", now), 20);
  } finally {
    if (zone === undefined) delete process.env.TZ;
    else process.env.TZ = zone;
  }
  assert.equal(retryAfterSeconds("Fri, 25 Nov 2050 12:00:00 GMT", now), 86_400);
});

test("retryAfterSeconds ignores absent and invalid values instead of saying 'retry now'", () => {
  for (const value of [undefined, "", "soon", "-5", "1.5", "1e3", "0x10", "Mon 5", "12abc", "NaN"]) {
    assert.equal(retryAfterSeconds(value), undefined, JSON.stringify(value));
  }
});
