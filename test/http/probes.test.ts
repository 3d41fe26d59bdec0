/**
 * /healthz, /readyz and unknown paths through the real server over real HTTP (the page a browser gets
 * at /graphql is in test/graphql/explorer.test.ts and test/browser/);
 * and readiness while the app drains, observed on connections that were open before shutdown began.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { connectOnce } from "../../dev/ports.js";
import { CLIENT_ID, CLIENT_SECRET, type Harness, requestToken, startHarness } from "../support/harness.js";

describe("probes and routing", () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.close();
  });

  test("/healthz answers 200 ok, uncached, with a request id", async () => {
    const response = await fetch(`${harness.origin}/healthz`);
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { status: "ok" });
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.match(response.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  });

  test("/readyz answers 200 once started", async () => {
    const response = await fetch(`${harness.origin}/readyz`);
    assert.equal(response.status, 200);
    // The upstream circuit is shown, but an open one does not make the replica unready.
    assert.deepEqual(await response.json(), { status: "ready", upstream: "closed" });
  });

  test("probes answer HEAD without a body and refuse other methods", async () => {
    const head = await fetch(`${harness.origin}/healthz`, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
    const post = await fetch(`${harness.origin}/readyz`, { method: "POST", body: "{}" });
    assert.equal(post.status, 405);
  });

  test("an unknown path is a coded 404", async () => {
    for (const path of ["/", "/nope", "/graphql/extra", "/healthz/x", "/GRAPHQL"]) {
      const response = await fetch(`${harness.origin}${path}`);
      assert.equal(response.status, 404, path);
      const body = (await response.json()) as { errors: { extensions: { code: string } }[] };
      assert.equal(body.errors[0]?.extensions.code, "NOT_FOUND");
    }
    // Whatever the method: an unknown path is not found, not "method not allowed".
    const post = await fetch(`${harness.origin}/nope`, { method: "POST", body: "{}" });
    assert.equal(post.status, 404);
  });

  test("probes are cheap and say nothing secret: no upstream call, even after tokens were issued", async () => {
    const issued = await requestToken(harness);
    const token = issued.data?.accessToken.accessToken ?? "";
    assert.notEqual(token, "");
    const upstreamBefore = harness.fake.requests.length;
    const bodies: string[] = [];
    for (let i = 0; i < 10; i++) {
      bodies.push(await (await fetch(`${harness.origin}/healthz`)).text());
      bodies.push(await (await fetch(`${harness.origin}/readyz`)).text());
    }
    assert.equal(harness.fake.requests.length, upstreamBefore);
    for (const body of bodies) {
      for (const secret of [CLIENT_ID, CLIENT_SECRET, token]) assert.ok(!body.includes(secret));
    }
  });
});

/** A connection that has sent a request line and one header, but not the end of its headers. */
interface StartedRequest {
  /** Ends the headers and resolves with the raw response once the server closes the connection. */
  finish(): Promise<string>;
}

async function startRequest(port: number, path: string): Promise<StartedRequest> {
  const socket: Socket = connect(port, "127.0.0.1");
  socket.setEncoding("utf8");
  let received = "";
  socket.on("data", (chunk: string) => {
    received += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject);
    socket.once("connect", () => resolve());
  });
  await new Promise<void>((resolve, reject) =>
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`, (error) =>
      error ? reject(error) : resolve(),
    ),
  );
  return {
    async finish() {
      socket.write("\r\n");
      await closed;
      return received;
    },
  };
}

test("once shutdown began: /readyz 503 and /healthz 200 on open connections, new connections refused, the in-flight token finishes", async () => {
  const harness = await startHarness();
  let drained = false;
  try {
    const port = Number(new URL(harness.origin).port);
    // These connections have begun a request before shutdown, so shutdown must not drop them; they
    // were written before the token request was even sent, so the server has read them by the time
    // the token request reaches the fake.
    const readiness = await startRequest(port, "/readyz");
    const health = await startRequest(port, "/healthz");
    const release = harness.fake.hold();
    const inFlight = requestToken(harness);
    await harness.fake.waitForRequests(1);

    const shutdown = harness.app.shutdown(5000);
    await assert.rejects(connectOnce(port), { code: "ECONNREFUSED" });

    const ready = await readiness.finish();
    assert.match(ready, /^HTTP\/1\.1 503 /);
    assert.match(ready, /"status":"not-ready"/);
    assert.match(ready, /\r\nconnection: close\r\n/i);
    const healthy = await health.finish();
    assert.match(healthy, /^HTTP\/1\.1 200 /);
    assert.match(healthy, /"status":"ok"/);

    release();
    const result = await inFlight;
    assert.equal(result.errors, undefined);
    assert.equal(result.data?.accessToken.fromCache, false);
    await shutdown;
    drained = true;
  } finally {
    if (drained) await harness.fake.close();
    else await harness.close();
  }
});
