/**
 * The perimeter's files are read and checked at start-up: a TLS pair that does not load and a
 * trusted-documents manifest in neither format stop it with a message naming the variable, never the
 * file's contents; the two manifest formats read to the same operations.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { ConfigError, loadConfig } from "../../src/config/index.js";
import { readTrustedDocuments } from "../../src/config/trusted-documents.js";
import { makeTestPki, type TestPki } from "../support/certificates.js";

let directory: string;
let pki: TestPki;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), "perimeter-config-"));
  pki = await makeTestPki();
});

after(async () => {
  await rm(directory, { recursive: true, force: true });
  await pki.remove();
});

function refusedNaming(env: Record<string, string>, name: string, secret?: string): void {
  assert.throws(
    () => loadConfig(env),
    (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, new RegExp(`\\b${name}\\b`));
      if (secret !== undefined) assert.ok(!error.message.includes(secret));
      return true;
    },
  );
}

test("a certificate with another certificate's key, or a file that is not PEM, stops start-up", async () => {
  refusedNaming({ TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.router.keyFile }, "TLS_CERT_FILE");
  const junk = join(directory, "junk.pem");
  await writeFile(junk, "not a certificate");
  refusedNaming(
    { TLS_CERT_FILE: pki.server.certFile, TLS_KEY_FILE: pki.server.keyFile, TLS_CLIENT_CA_FILE: junk },
    "TLS_CLIENT_CA_FILE",
  );
  const config = loadConfig({
    TLS_CERT_FILE: pki.server.certFile,
    TLS_KEY_FILE: pki.server.keyFile,
    TLS_CLIENT_CA_FILE: pki.ca.certFile,
  });
  assert.deepEqual(config.perimeter.tls, {
    certFile: pki.server.certFile,
    keyFile: pki.server.keyFile,
    clientCaFile: pki.ca.certFile,
  });
});

test("a manifest in neither format, or listing nothing, stops start-up without echoing it", async () => {
  const secretish = 'mutation { accessToken(clientId: "x", clientSecret: "hunter2hunter2") { accessToken } }';
  for (const [name, text] of [
    ["not JSON", "{ nope"],
    ["an array", "[]"],
    ["empty", "{}"],
    ["wrong format", JSON.stringify({ format: "other", version: 1, operations: [] })],
    [
      "wrong version",
      JSON.stringify({ format: "apollo-persisted-query-manifest", version: 2, operations: [] }),
    ],
    [
      "no operations",
      JSON.stringify({ format: "apollo-persisted-query-manifest", version: 1, operations: [] }),
    ],
    ["a body that is not text", JSON.stringify({ a: 1 })],
    [
      "one id, two documents",
      JSON.stringify({
        format: "apollo-persisted-query-manifest",
        version: 1,
        operations: [
          { id: "a", body: "{ a }" },
          { id: "a", body: secretish },
        ],
      }),
    ],
  ] as const) {
    const file = join(directory, `${name.replaceAll(" ", "-")}.json`);
    await writeFile(file, text);
    refusedNaming({ TRUSTED_DOCUMENTS_FILE: file }, "TRUSTED_DOCUMENTS_FILE", "hunter2hunter2");
  }
});

test("Apollo's manifest and the flat id-to-document object read to the same operations", () => {
  const apollo = readTrustedDocuments(
    JSON.stringify({
      format: "apollo-persisted-query-manifest",
      version: 1,
      operations: [
        { id: "id1", name: "Status", type: "query", body: "query Status { asposeTokenService { ready } }" },
      ],
    }),
  );
  const flat = readTrustedDocuments(JSON.stringify({ id1: "query Status { asposeTokenService { ready } }" }));
  assert.ok(apollo !== undefined && flat !== undefined);
  assert.deepEqual([...apollo.byId], [...flat.byId]);
  assert.deepEqual([...apollo.documents], ["query Status { asposeTokenService { ready } }"]);
});
