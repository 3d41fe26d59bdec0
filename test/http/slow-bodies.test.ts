/**
 * Slow bodies against the public port: a body that trickles is cut long before the whole-request
 * timeout, with a coded 408, and slow bodies from one address cannot fill the connection cap: past
 * MAX_CONNECTIONS_PER_ADDRESS its connections are closed as they are accepted, while a client at
 * another address is served.
 */
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { harnessFor, requestToken } from "../support/harness.js";
import { errorCodes, postHead, RawConnection, sample } from "../support/raw-connection.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 20_000 };

const ATTACKER = "127.0.0.2";
const NEIGHBOUR = "127.0.0.3";

/** A body's first bytes: enough to start it, never enough to finish it. */
const PARTIAL = '{"query":"mutation { accessToken(clientId: \\"';

test(
  "a body that trickles below REQUEST_BODY_MIN_BYTES_PER_SECOND is answered 408 REQUEST_TIMEOUT and closed, long before REQUEST_TIMEOUT_MS",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, {
      env: { REQUEST_TIMEOUT_MS: "300000", REQUEST_BODY_MIN_BYTES_PER_SECOND: "1024" },
    });
    const port = Number(new URL(harness.origin).port);
    const slow = await RawConnection.sending(port, postHead(4096) + PARTIAL);
    t.after(() => slow.destroy());
    // Ten bytes a second, for at most six seconds: far below the minimum, and the trickle ends by
    // itself long before REQUEST_TIMEOUT_MS would.
    let trickled = 0;
    while (!slow.socket.closed && trickled < 60) {
      await slow.write("a");
      trickled += 1;
      await Promise.race([delay(100), slow.closed]);
    }
    assert.ok(trickled < 60, "not cut while it trickled");
    await slow.closed;
    assert.ok(slow.endedByService, "the test, not the service, ended the connection");
    assert.match(slow.received, /^HTTP\/1\.1 408 /);
    assert.match(slow.received, /\r\nconnection: close\r\n/i);
    assert.deepEqual(errorCodes(slow.received), ["REQUEST_TIMEOUT"]);
    const metrics = await (await fetch(`${harness.origin}/metrics`)).text();
    assert.equal(sample(metrics, 'http_connections_shed_total{reason="slow_body"}'), 1);
    assert.equal(sample(metrics, "http_request_body_bytes"), 0);
    // A body sent at once is untouched.
    assert.equal((await requestToken(harness)).errors, undefined);
  },
);

/** GET /healthz from `localAddress`; rejects if the connection is refused or reset. */
function healthzFrom(origin: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(`${origin}/healthz`, { localAddress, agent: false }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    })
      .on("error", reject)
      .end();
  });
}

test(
  "slow bodies from one address cannot take the connection cap: past MAX_CONNECTIONS_PER_ADDRESS they are closed as accepted, another address is served, and the held ones are cut",
  BOUNDED,
  async (t) => {
    const cap = 30;
    const perAddress = 10;
    const harness = await harnessFor(t, {
      env: { MAX_CONNECTIONS: String(cap), MAX_CONNECTIONS_PER_ADDRESS: String(perAddress) },
    });
    const port = Number(new URL(harness.origin).port);
    // As many slow uploads from one address as the whole cap.
    const flood = await Promise.all(
      Array.from({ length: cap }, () => RawConnection.sending(port, postHead(4096) + PARTIAL, ATTACKER)),
    );
    t.after(() => {
      for (const connection of flood) connection.destroy();
    });

    assert.equal(await healthzFrom(harness.origin, NEIGHBOUR), 200);

    // Every connection of the flood ends by itself: past the limit at once and unanswered, the held
    // ones once their bodies fall below the minimum rate.
    await Promise.all(flood.map((connection) => connection.closed));
    const unanswered = flood.filter((connection) => connection.received === "");
    const cut = flood.filter((connection) => connection.received !== "");
    assert.equal(unanswered.length, cap - perAddress);
    assert.equal(cut.length, perAddress);
    for (const connection of cut) {
      assert.match(connection.received, /^HTTP\/1\.1 408 /);
      assert.deepEqual(errorCodes(connection.received), ["REQUEST_TIMEOUT"]);
    }
    assert.ok(flood.every((connection) => connection.endedByService));

    const metrics = await (await fetch(`${harness.origin}/metrics`)).text();
    assert.equal(sample(metrics, 'http_connections_shed_total{reason="address_limit"}'), cap - perAddress);
    assert.equal(sample(metrics, 'http_connections_shed_total{reason="slow_body"}'), perAddress);
    // The address is free again once its connections are gone.
    const again = await RawConnection.sending(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", ATTACKER);
    t.after(() => again.destroy());
    assert.deepEqual(await again.answers(1), ["200"]);
    assert.ok(
      harness.logs.some((line) => line.includes("Connection limit per address reached")),
      "the refusals were logged",
    );
  },
);
