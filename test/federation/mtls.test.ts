/**
 * Router-only access by client certificate: the public port speaks TLS (TLS_CERT_FILE, TLS_KEY_FILE)
 * and trusts only callers whose certificate TLS_CLIENT_CA_FILE's CA issued. Apollo Gateway, from
 * gateways/apollo-gateway as written, presents the router's certificate and passes; a caller without
 * one, or with one from another CA, completes the handshake and is refused 403 ROUTER_ONLY, counted.
 * A renewed certificate is picked up when its files change and on SIGHUP, without a restart.
 */
import assert from "node:assert/strict";
import { on } from "node:events";
import { copyFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { connect } from "node:tls";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { startGateway } from "../../gateways/apollo-gateway/gateway.js";
import { type Issued, makeTestPki, type TestPki } from "../support/certificates.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  startHarness,
} from "../support/harness.js";
import { serviceEnv, startFake, startService } from "../support/process.js";

const CREDENTIALS = { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };

let pki: TestPki;
let live: string;
let harness: Harness;
let supergraphFile: string;

/** The subgraph's TLS files, in a directory of their own that the tests rewrite. */
function tlsEnv(directory: string): Record<string, string> {
  return {
    TLS_CERT_FILE: join(directory, "tls.crt"),
    TLS_KEY_FILE: join(directory, "tls.key"),
    TLS_CLIENT_CA_FILE: pki.ca.certFile,
  };
}

async function install(directory: string, server: Issued): Promise<void> {
  await copyFile(server.keyFile, join(directory, "tls.key"));
  await copyFile(server.certFile, join(directory, "tls.crt"));
}

interface Answer {
  readonly status: number;
  readonly text: string;
}

/** A POST over TLS, trusting the test CA, presenting `client` when given. */
function post(url: string, body: object, client?: Issued): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json" },
        ca: pki.ca.cert,
        ...(client === undefined ? {} : { cert: client.cert, key: client.key }),
        agent: false,
      },
      (incoming) => {
        let text = "";
        incoming.setEncoding("utf8");
        incoming.on("data", (chunk: string) => {
          text += chunk;
        });
        incoming.on("end", () => resolve({ status: incoming.statusCode ?? 0, text }));
        incoming.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(JSON.stringify(body));
  });
}

/** The serial number of the certificate a new TLS connection to `port` meets. */
function servedSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port, ca: pki.ca.cert, servername: "localhost" }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on("error", reject);
  });
}

async function serialOf(issued: Issued): Promise<string> {
  const { X509Certificate } = await import("node:crypto");
  return new X509Certificate(issued.cert).serialNumber;
}

function metricOf(metrics: string, reason: string): number {
  const match = new RegExp(`^perimeter_refusals_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(metrics);
  return match?.[1] === undefined ? 0 : Number(match[1]);
}

before(async () => {
  pki = await makeTestPki();
  live = await mkdtemp(join(tmpdir(), "subgraph-tls-"));
  await install(live, pki.server);
  harness = await startHarness({ env: { ...tlsEnv(live), ADMIN_PORT: "0", ADMIN_HOST: "127.0.0.1" } });
  assert.match(harness.url, /^https:/);
  const served = await post(harness.url, { query: "{ _service { sdl } }" }, pki.router);
  const sdl = (JSON.parse(served.text) as { data: { _service: { sdl: string } } }).data._service.sdl;
  const composed = composeServices([{ name: "aspose-token", typeDefs: parse(sdl), url: harness.url }]);
  assert.ok(composed.supergraphSdl !== undefined);
  supergraphFile = join(live, "supergraph.graphql");
  await writeFile(supergraphFile, composed.supergraphSdl);
});

after(async () => {
  await harness?.close();
  await rm(live, { recursive: true, force: true });
  await pki?.remove();
});

async function metrics(): Promise<string> {
  const address = harness.app.adminServer?.address() as AddressInfo;
  return (await fetch(`http://127.0.0.1:${address.port}/metrics`)).text();
}

test("Apollo Gateway presenting the router's certificate gets tokens; without it, it is refused", async () => {
  const withCertificate = await startGateway({
    SUPERGRAPH_FILE: supergraphFile,
    PORT: "0",
    HOST: "127.0.0.1",
    SUBGRAPH_CLIENT_CERT_FILE: pki.router.certFile,
    SUBGRAPH_CLIENT_KEY_FILE: pki.router.keyFile,
    SUBGRAPH_CA_FILE: pki.ca.certFile,
  });
  try {
    const answer = await readAnswer<{ accessToken: { tokenType: string } }>(
      await postOperation(withCertificate.url, ACCESS_TOKEN_MUTATION, CREDENTIALS, {
        accept: "application/json",
      }),
    );
    assert.equal(answer.errors, undefined, answer.text);
    assert.equal(answer.data?.accessToken.tokenType, "Bearer");
  } finally {
    await withCertificate.stop();
  }

  // A gateway that trusts the subgraph's CA but presents no certificate of its own.
  const before = metricOf(await metrics(), "certificate_missing");
  const without = await startGateway({
    SUPERGRAPH_FILE: supergraphFile,
    PORT: "0",
    HOST: "127.0.0.1",
    SUBGRAPH_CA_FILE: pki.ca.certFile,
  });
  try {
    const answer = await readAnswer(
      await postOperation(without.url, ACCESS_TOKEN_MUTATION, CREDENTIALS, { accept: "application/json" }),
    );
    assert.equal(answer.data, null, answer.text);
    assert.match(answer.text, /403/);
  } finally {
    await without.stop();
  }
  assert.equal(metricOf(await metrics(), "certificate_missing"), before + 1);
});

test("a direct caller without a certificate, or with one from another CA, is refused 403 ROUTER_ONLY", async () => {
  const upstream = harness.fake.totalTokenRequests;
  const before = await metrics();
  const none = await post(harness.url, { query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS });
  assert.equal(none.status, 403, none.text);
  assert.match(none.text, /"code":"ROUTER_ONLY"/);
  const stranger = await post(
    harness.url,
    { query: ACCESS_TOKEN_MUTATION, variables: CREDENTIALS },
    pki.stranger,
  );
  assert.equal(stranger.status, 403, stranger.text);
  assert.match(stranger.text, /"code":"ROUTER_ONLY"/);
  assert.equal(harness.fake.totalTokenRequests, upstream, "nothing reached Aspose");
  const after = await metrics();
  assert.equal(metricOf(after, "certificate_missing"), metricOf(before, "certificate_missing") + 1);
  assert.equal(metricOf(after, "certificate_untrusted"), metricOf(before, "certificate_untrusted") + 1);
  // The probes stay on the plain-HTTP admin port.
  const address = harness.app.adminServer?.address() as AddressInfo;
  assert.equal((await fetch(`http://127.0.0.1:${address.port}/readyz`)).status, 200);
});

test("a renewed certificate written over the files is served to new connections, without a restart", async () => {
  const tls = harness.app.tls;
  assert.ok(tls !== undefined);
  const port = (harness.app.httpServer.address() as AddressInfo).port;
  assert.equal(await servedSerial(port), await serialOf(pki.server));
  const renewed = await pki.renewServer("renewed");
  const reloads = on(tls, "reload");
  await install(live, renewed);
  // The key and the certificate are two writes: wait for the reload that loaded the pair.
  for await (const [event] of reloads) if ((event as { loaded: boolean }).loaded) break;
  assert.equal(await servedSerial(port), await serialOf(renewed));
  const answer = await post(harness.url, { query: "{ asposeTokenService { ready } }" }, pki.router);
  assert.equal(answer.status, 200, answer.text);
});

test("a file that does not load keeps the certificate in use", async () => {
  const tls = harness.app.tls;
  assert.ok(tls !== undefined);
  const port = (harness.app.httpServer.address() as AddressInfo).port;
  const inUse = await servedSerial(port);
  tls.close(); // no watcher: this test drives the reload itself
  await writeFile(join(live, "tls.key"), "not a key");
  assert.equal(tls.reload("signal"), false);
  assert.equal(await servedSerial(port), inUse);
  assert.ok(harness.logs.some((line) => line.includes("TLS files did not load")));
  assert.ok(!harness.logs.some((line) => line.includes("BEGIN")), "no key or certificate in the logs");
});

test("SIGHUP reloads the certificate of the running service process", async (t) => {
  const directory = await mkdtemp(join(tmpdir(), "subgraph-sighup-"));
  t.after(() => rm(directory, { recursive: true, force: true }));
  await install(directory, pki.server);
  const fake = await startFake(t);
  const service = await startService(serviceEnv(fake, tlsEnv(directory)));
  t.after(() => service.stop());
  assert.ok(service.logs.some((line) => String(line.msg).includes("ready at https://")));
  assert.equal(await servedSerial(service.port), await serialOf(pki.server));
  const renewed = await pki.renewServer("renewed-by-signal");
  // The watcher may reload on these writes first; the test awaits the reload the signal causes.
  await install(directory, renewed);
  service.child.kill("SIGHUP");
  await service.waitForLog(
    (line) => line.msg === "TLS certificate and keys reloaded" && line.cause === "signal",
    "the reload on SIGHUP",
  );
  assert.equal(await servedSerial(service.port), await serialOf(renewed));
  assert.equal(service.hasExited(), false, "SIGHUP does not end the service");
});
