/**
 * Pipelining against the public port: requests beyond PIPELINE_DEPTH on one connection wait for their
 * turn while other connections are served, and a client that pipelines without ever reading its
 * answers is cut once they back up, having been answered a bounded number of times.
 */
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { test } from "node:test";
import { harnessFor, requestToken, CLIENT_ID } from "../support/harness.js";
import { RawConnection, sample } from "../support/raw-connection.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 30_000 };

const SECRET = "5f0c4d2b1a9e8d7c6b5a4f3e2d1c0b9a";

/** A pipelined POST of the accessToken mutation for `clientId`. */
function tokenRequest(clientId: string): string {
  const body = JSON.stringify({
    query:
      "mutation T($clientId: String!, $clientSecret: String!) { accessToken(clientId: $clientId, clientSecret: $clientSecret) { accessToken } }",
    variables: { clientId, clientSecret: SECRET },
  });
  return `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

test(
  "requests beyond PIPELINE_DEPTH wait their turn: with Aspose holding its answers, only that many of eight pipelined ones reach it, and another client's request overtakes the rest",
  BOUNDED,
  async (t) => {
    const depth = 2;
    const harness = await harnessFor(t, { env: { PIPELINE_DEPTH: String(depth) } });
    const port = Number(new URL(harness.origin).port);
    const ids = Array.from({ length: 8 }, (_, i) => `pipelined-client-${i}`);
    for (const id of ids) harness.fake.addClient(id, SECRET);
    const release = harness.fake.hold();
    const pipeliner = await RawConnection.sending(port, ids.map(tokenRequest).join(""));
    t.after(() => pipeliner.destroy());
    await harness.fake.waitForRequests(depth);

    const other = requestToken(harness);
    await harness.fake.waitForRequests(depth + 1);
    assert.deepEqual(
      harness.fake.requests.map((record) => record.clientId),
      [...ids.slice(0, depth), CLIENT_ID],
    );
    const exposition = await (await fetch(`${harness.origin}/metrics`)).text();
    assert.equal(sample(exposition, "http_pipelined_requests_waiting"), ids.length - depth);

    release();
    assert.equal((await other).errors, undefined);
    // Every pipelined request is answered, in order.
    const statuses = await pipeliner.answers(ids.length);
    assert.deepEqual(
      statuses,
      ids.map(() => "200"),
    );
    assert.equal(harness.fake.requests.length, ids.length + 1);
    assert.ok(!pipeliner.socket.closed);
  },
);

test(
  "a client that pipelines and never reads is cut once its answers back up, answered far fewer times than it asked",
  BOUNDED,
  async (t) => {
    const harness = await harnessFor(t, { env: { SEND_TIMEOUT_MS: "300", LOG_LEVEL: "info" } });
    const port = Number(new URL(harness.origin).port);
    const asked = 10_000;
    const served = new Promise<Socket>((resolve) => harness.app.httpServer.once("connection", resolve));
    const reader = await RawConnection.open(port);
    t.after(() => reader.destroy());
    // It never reads: what the service sends piles up in the system's buffers, then in the process.
    reader.socket.pause();
    void reader.write("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(asked));
    const serverSide = await served;
    await new Promise<void>((resolve) => serverSide.once("close", () => resolve()));

    const answered = harness.logs.filter((line) => line.includes('"path":"/metrics"')).length;
    assert.ok(answered > 0, "nothing was answered");
    assert.ok(answered < asked, `all ${asked} requests were answered`);
    const exposition = await (await fetch(`${harness.origin}/metrics`)).text();
    assert.equal(sample(exposition, 'http_connections_shed_total{reason="send_timeout"}'), 1);
    assert.equal(sample(exposition, "http_pipelined_requests_waiting"), 0);
    // What reached the client is at most what was answered; the rest was dropped with the connection.
    reader.socket.resume();
    await reader.closed;
    const received = reader.received.split("HTTP/1.1 200 ").length - 1;
    assert.ok(received <= answered, `${received} answers received, ${answered} sent`);
  },
);
