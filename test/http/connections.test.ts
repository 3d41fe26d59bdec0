/**
 * Against hostile clients on loopback: a connection that sends no complete request is answered 408 and
 * closed within REQUEST_HEADERS_TIMEOUT_MS (plus the check interval), and connections past
 * MAX_CONNECTIONS are closed at once while the admin port, the only one serving the probes when set,
 * still answers them.
 */
import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { connect } from "node:net";
import { test } from "node:test";
import { harnessFor } from "../support/harness.js";
import { errorCodes, postHead, RawConnection, sample } from "../support/raw-connection.js";

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
  "with ADMIN_PORT set the probes and metrics answer there only, and keep answering while slow bodies fill the public port's connection cap",
  BOUNDED,
  async (t) => {
    const cap = 20;
    const harness = await harnessFor(t, {
      env: {
        MAX_CONNECTIONS: String(cap),
        // One address may fill the cap, and its bodies stay held for the test.
        MAX_CONNECTIONS_PER_ADDRESS: String(cap),
        REQUEST_BODY_MIN_BYTES_PER_SECOND: "0",
        REQUEST_TIMEOUT_MS: "300000",
        ADMIN_PORT: "0",
        ADMIN_HOST: "127.0.0.1",
      },
    });
    const port = Number(new URL(harness.origin).port);
    const admin = harness.app.adminServer?.address() as AddressInfo | null | undefined;
    assert.ok(admin?.port !== undefined, "the admin port is listening");
    const adminOrigin = `http://127.0.0.1:${admin.port}`;

    // The public port shows neither probes nor metrics to its callers (asked on a connection that then
    // closes, so that the flood below has every slot).
    for (const path of ["/healthz", "/readyz", "/metrics"]) {
      const asking = await RawConnection.sending(
        port,
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`,
      );
      await asking.closed;
      assert.match(asking.received, /^HTTP\/1\.1 404 /, path);
      assert.deepEqual(errorCodes(asking.received), ["NOT_FOUND"]);
      assert.doesNotMatch(asking.received, /nodejs|graphql_requests_total|"status"/);
    }

    // Slow uploads take every connection the public port has.
    const flood = await Promise.all(
      Array.from({ length: cap }, () => RawConnection.sending(port, `${postHead(4096)}{"query":"`)),
    );
    t.after(() => {
      for (const connection of flood) connection.destroy();
    });
    const refused = await holdOpen(port, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    assert.equal(refused.received, "", "a new connection to the public port is closed unanswered");
    assert.ok(
      harness.logs.some((line) => line.includes("Connection cap reached")),
      "the drop was logged",
    );

    // Liveness, readiness and metrics answer on the admin port meanwhile.
    const healthz = await fetch(`${adminOrigin}/healthz`);
    assert.equal(healthz.status, 200);
    assert.deepEqual(await healthz.json(), { status: "ok" });
    assert.equal((await fetch(`${adminOrigin}/readyz`)).status, 200);
    const metrics = await (await fetch(`${adminOrigin}/metrics`)).text();
    assert.equal(sample(metrics, "http_connections_open"), cap);
    assert.equal(sample(metrics, 'http_connections_shed_total{reason="connection_cap"}'), 1);
    // The admin port serves probes only.
    assert.equal((await fetch(`${adminOrigin}/graphql`, { method: "POST", body: "{}" })).status, 404);
    assert.ok(
      flood.every((connection) => !connection.socket.closed),
      "the flood is still held",
    );
  },
);
