/**
 * Issue 12 point 3: an oversized request must not break its neighbours. The 413 goes out with
 * `Connection: close`, the client reads it whole, and the connection ends with a FIN, not a reset; a
 * keep-alive client then opens a fresh connection for its next request instead of failing on a
 * destroyed one.
 */
import assert from "node:assert/strict";
import { Agent, request } from "node:http";
import { connect } from "node:net";
import { after, before, test } from "node:test";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 15_000 };

import { type Harness, startHarness } from "../support/harness.js";

const LIMIT = 1024;
let harness: Harness;
before(async () => {
  harness = await startHarness({ env: { REQUEST_BODY_LIMIT_BYTES: String(LIMIT) } });
});
after(async () => {
  await harness.close();
});

interface Answer {
  readonly status: number;
  readonly connection: string | undefined;
  readonly body: string;
}

/** One request through `agent`; rejects with the socket error (ECONNRESET) if the connection dies. */
function send(agent: Agent, path: string, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      `${harness.origin}${path}`,
      {
        agent,
        method: body === undefined ? "GET" : "POST",
        headers: body === undefined ? {} : { "content-type": "application/json" },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: text }),
        );
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

function codeOf(body: string): unknown {
  const parsed = JSON.parse(body) as { errors?: { extensions?: { code?: unknown } }[] };
  return parsed.errors?.[0]?.extensions?.code;
}

test(
  "a keep-alive client's next request after a 413 succeeds: 20 of 20 on one connection",
  BOUNDED,
  async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const oversized = JSON.stringify({ query: "x".repeat(LIMIT * 4) });
      const failures: string[] = [];
      const connectionHeaders = new Set<string | undefined>();
      for (let i = 0; i < 20; i++) {
        const refused = await send(agent, "/graphql", oversized);
        assert.equal(refused.status, 413);
        assert.equal(typeof codeOf(refused.body), "string");
        connectionHeaders.add(refused.connection);
        try {
          const next = await send(agent, "/healthz");
          assert.equal(next.status, 200);
        } catch (error) {
          failures.push(error instanceof Error && "code" in error ? String(error.code) : String(error));
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of 20 next requests failed`);
      assert.deepEqual([...connectionHeaders], ["close"]);
    } finally {
      agent.destroy();
    }
  },
);

test(
  "a raw client that sent its whole oversized body reads the 413 and then sees a clean close, not a reset",
  BOUNDED,
  async () => {
    const socket = connect(Number(new URL(harness.origin).port), "127.0.0.1");
    socket.setEncoding("utf8");
    let received = "";
    let socketError: string | undefined;
    socket.on("data", (chunk: string) => {
      received += chunk;
    });
    socket.on("error", (error: NodeJS.ErrnoException) => {
      socketError = error.code;
    });
    let ended = false;
    socket.once("end", () => {
      ended = true;
      socket.end();
    });
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const body = JSON.stringify({ query: "y".repeat(LIMIT * 64) });
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const started = performance.now();
    await closed;
    assert.match(received, /^HTTP\/1\.1 413 /);
    assert.match(received, /\r\nconnection: close\r\n/i);
    assert.equal(socketError, undefined, "the connection was reset");
    assert.ok(ended, "the server ended the connection with a FIN");
    assert.ok(performance.now() - started < 5000, "closed promptly");
  },
);
