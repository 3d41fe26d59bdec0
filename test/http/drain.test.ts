/**
 * Shutdown's draining on its own: a connection that has sent nothing holds no request, so it must not
 * hold the shutdown until its head timeout (a browser opens such connections ahead of use).
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:net";
import { test } from "node:test";
import { startHarness } from "../support/harness.js";

test("a connection that never sent a byte is closed at once by shutdown: nothing is cut, nothing waits for the deadline", async () => {
  // Head timeouts far beyond the deadline: only draining itself can close the silent connection.
  const harness = await startHarness({
    env: { REQUEST_HEADERS_TIMEOUT_MS: "120000", REQUEST_TIMEOUT_MS: "120000" },
  });
  let stopped = false;
  try {
    const port = Number(new URL(harness.origin).port);
    const accepted = once(harness.app.httpServer, "connection");
    const silent = connect(port, "127.0.0.1");
    const closed = once(silent, "close");
    await accepted;

    const report = await harness.app.shutdown(2000);
    stopped = true;
    assert.equal(report.cutRequests, 0, "the deadline was reached: the silent connection held the drain");
    await closed;
  } finally {
    if (stopped) await harness.fake.close();
    else await harness.close();
  }
});
