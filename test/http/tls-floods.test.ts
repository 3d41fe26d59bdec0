/**
 * The same bounds when the public port speaks TLS: a connection past MAX_CONNECTIONS_PER_ADDRESS is
 * closed before any handshake, and a client that pipelines over TLS without reading is cut (the TLS
 * socket is the one answers wait on).
 */
import assert from "node:assert/strict";
import { connect as connectTcp, type Socket } from "node:net";
import { after, before, test } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { makeTestPki, type TestPki } from "../support/certificates.js";
import { type Harness, startHarness } from "../support/harness.js";
import { sample } from "../support/raw-connection.js";

// A connection bug shows up as a hang: fail instead.
const BOUNDED = { timeout: 20_000 };

const PER_ADDRESS = 3;
let pki: TestPki;
let harness: Harness;
let port: number;

before(async () => {
  pki = await makeTestPki();
  harness = await startHarness({
    env: {
      TLS_CERT_FILE: pki.server.certFile,
      TLS_KEY_FILE: pki.server.keyFile,
      MAX_CONNECTIONS_PER_ADDRESS: String(PER_ADDRESS),
      SEND_TIMEOUT_MS: "300",
    },
  });
  port = Number(new URL(harness.origin).port);
});

after(async () => {
  await harness?.close();
  await pki?.remove();
});

/** A TLS connection from `localAddress`: resolves with it once the handshake is done, or undefined if it was closed first. */
function handshake(localAddress: string): Promise<TLSSocket | undefined> {
  return new Promise((resolve) => {
    // tls.connect cannot choose its source address; the TCP socket it runs over can.
    const raw = connectTcp({ host: "127.0.0.1", port, localAddress });
    raw.on("error", () => {});
    const socket = connect({ socket: raw, ca: pki.ca.cert, servername: "localhost" });
    socket.once("secureConnect", () => resolve(socket));
    socket.once("error", () => resolve(undefined));
    socket.once("close", () => resolve(undefined));
  });
}

async function metrics(): Promise<string> {
  const socket = await handshake("127.0.0.1");
  assert.ok(socket !== undefined);
  socket.setEncoding("utf8");
  let text = "";
  socket.on("data", (chunk: string) => {
    text += chunk;
  });
  socket.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  await new Promise((resolve) => socket.once("close", resolve));
  return text;
}

test(
  "past MAX_CONNECTIONS_PER_ADDRESS a TLS connection is closed before its handshake",
  BOUNDED,
  async () => {
    const attempts = await Promise.all(Array.from({ length: PER_ADDRESS * 2 }, () => handshake("127.0.0.2")));
    const open = attempts.filter((socket) => socket !== undefined);
    try {
      assert.equal(open.length, PER_ADDRESS);
      assert.equal(
        sample(await metrics(), 'http_connections_shed_total{reason="address_limit"}'),
        PER_ADDRESS,
      );
    } finally {
      for (const socket of open) socket?.destroy();
    }
  },
);

test("a client pipelining over TLS without reading is cut once its answers back up", BOUNDED, async () => {
  const served = new Promise<Socket>((resolve) => harness.app.httpServer.once("secureConnection", resolve));
  const reader = await handshake("127.0.0.3");
  assert.ok(reader !== undefined);
  try {
    reader.pause();
    reader.on("error", () => {});
    reader.write("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(10_000));
    const serverSide = await served;
    await new Promise((resolve) => serverSide.once("close", resolve));
    assert.equal(sample(await metrics(), 'http_connections_shed_total{reason="send_timeout"}'), 1);
  } finally {
    reader.destroy();
  }
});
