/**
 * Issue 12 point 4, against hostile clients on loopback: a connection that sends no complete request
 * is answered 408 and closed within REQUEST_HEADERS_TIMEOUT_MS (plus the check interval), and
 * connections past MAX_CONNECTIONS are closed at once while the admin port still answers the probes.
 */
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { test } from "node:test";
import { harnessFor } from "../support/harness.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 15_000 };

interface Closed {
  /** Everything the server sent before the connection ended. */
  readonly received: string;
  /** Milliseconds from connecting to the close. */
  readonly afterMs: number;
}

/** Connects, writes `payload` (if any), and resolves once the server has closed the connection. */
function holdOpen(port: number, payload?: string): Promise<Closed> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = connect(port, "127.0.0.1");
    let received = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    // A reset is still the server closing the connection (the cap closes at once).
    socket.on("error", () => {});
    socket.once("connect", () => {
      if (payload !== undefined) socket.write(payload);
    });
    socket.once("close", () => resolve({ received, afterMs: performance.now() - started }));
    socket.once("timeout", () => reject(new Error("still open")));
  });
}

test(
  "a connection that never sends a request, or only part of its head, is answered 408 and closed",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, { env: { REQUEST_HEADERS_TIMEOUT_MS: "200" } });
    const port = Number(new URL(harness.origin).port);
    const [silent, partial] = await Promise.all([
      holdOpen(port),
      holdOpen(port, "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl"),
    ]);
    for (const closed of [silent, partial]) {
      assert.match(closed.received, /^HTTP\/1\.1 408 /);
      assert.ok(closed.afterMs >= 150, `closed after ${Math.round(closed.afterMs)} ms: too early`);
      // 200 ms plus a 50 ms check interval; generous for a loaded machine.
      assert.ok(closed.afterMs < 2000, `closed after ${Math.round(closed.afterMs)} ms`);
    }
    // A well-behaved client on the same server is unaffected.
    assert.equal((await fetch(`${harness.origin}/healthz`)).status, 200);
  },
);

test(
  "past MAX_CONNECTIONS new connections are closed at once, and the admin port still answers the probes",
  BOUNDED,
  async (t) => {
    const cap = 20;
    const harness = await harnessFor(t, {
      env: { MAX_CONNECTIONS: String(cap), ADMIN_PORT: "0", ADMIN_HOST: "127.0.0.1" },
    });
    const port = Number(new URL(harness.origin).port);
    // Fill the cap with keep-alive connections the server has certainly accepted: each served a request.
    const agent = new Agent({ keepAlive: true, maxSockets: cap });
    t.after(() => agent.destroy());
    const served = await Promise.all(
      Array.from(
        { length: cap },
        () =>
          new Promise<number>((resolve, reject) => {
            request(`${harness.origin}/healthz`, { agent }, (response) => {
              response.resume();
              response.on("end", () => resolve(response.statusCode ?? 0));
            })
              .on("error", reject)
              .end();
          }),
      ),
    );
    assert.deepEqual(new Set(served), new Set([200]));

    // The public port is saturated: a new connection is closed without an answer, probes included.
    const refused = await holdOpen(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.equal(refused.received, "");
    assert.ok(refused.afterMs < 2000, `closed after ${Math.round(refused.afterMs)} ms`);
    assert.ok(
      harness.logs.some((line) => line.includes("Connection cap reached")),
      "the drop was logged",
    );

    // The admin port tells the truth meanwhile.
    const admin = harness.app.adminServer?.address() as AddressInfo | null | undefined;
    assert.ok(admin?.port !== undefined, "the admin port is listening");
    const adminOrigin = `http://127.0.0.1:${admin.port}`;
    const healthz = await fetch(`${adminOrigin}/healthz`);
    assert.equal(healthz.status, 200);
    assert.deepEqual(await healthz.json(), { status: "ok" });
    assert.equal((await fetch(`${adminOrigin}/readyz`)).status, 200);
    assert.match(
      await (await fetch(`${adminOrigin}/metrics`)).text(),
      /^# TYPE graphql_requests_total counter$/m,
    );
    // The admin port serves probes only.
    assert.equal((await fetch(`${adminOrigin}/graphql`, { method: "POST", body: "{}" })).status, 404);
  },
);
