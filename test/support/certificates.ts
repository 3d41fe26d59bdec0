/**
 * Certificates for the TLS tests, made with the openssl command line in a temporary directory: a CA
 * that issues the subgraph's server certificate (for 127.0.0.1 and localhost) and the router's client
 * certificate, and a second CA whose certificates the subgraph must not trust.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its key, as PEM files and their contents. */
export interface Issued {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestPki {
  readonly directory: string;
  /** The CA the subgraph trusts for client certificates (and that issued its server certificate). */
  readonly ca: Issued;
  readonly server: Issued;
  /** The router's client certificate, issued by `ca`. */
  readonly router: Issued;
  /** A CA the subgraph does not trust, and a client certificate it issued. */
  readonly strangerCa: Issued;
  readonly stranger: Issued;
  /** Issues another server certificate from `ca` (a renewal), into `directory`. */
  renewServer(name: string): Promise<Issued>;
  remove(): Promise<void>;
}

async function openssl(directory: string, args: readonly string[]): Promise<void> {
  await run("openssl", args, { cwd: directory });
}

async function issued(directory: string, name: string): Promise<Issued> {
  const certFile = join(directory, `${name}.crt`);
  const keyFile = join(directory, `${name}.key`);
  return { certFile, keyFile, cert: await readFile(certFile), key: await readFile(keyFile) };
}

/** A new, unencrypted P-256 key for the request. */
const NEW_P256_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"] as const;

async function selfSignedCa(directory: string, name: string): Promise<Issued> {
  await openssl(directory, [
    "req",
    "-x509",
    ...NEW_P256_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return issued(directory, name);
}

async function signedBy(
  directory: string,
  ca: string,
  name: string,
  usage: "serverAuth" | "clientAuth",
): Promise<Issued> {
  await openssl(directory, [
    "req",
    ...NEW_P256_KEY,
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${name}`,
  ]);
  const extensions = join(directory, `${name}.ext`);
  const san = usage === "serverAuth" ? "\nsubjectAltName=IP:127.0.0.1,DNS:localhost" : "";
  await run("sh", ["-c", `printf 'extendedKeyUsage=${usage}${san}\\n' > '${extensions}'`]);
  await openssl(directory, [
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.crt`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.crt`,
    "-days",
    "2",
    "-extfile",
    extensions,
  ]);
  return issued(directory, name);
}

/** Makes the test PKI; `remove()` deletes it. */
export async function makeTestPki(): Promise<TestPki> {
  const directory = await mkdtemp(join(tmpdir(), "aspose-token-pki-"));
  const ca = await selfSignedCa(directory, "router-ca");
  const strangerCa = await selfSignedCa(directory, "stranger-ca");
  // One at a time: openssl keeps each CA's next serial number in a file.
  const server = await signedBy(directory, "router-ca", "subgraph", "serverAuth");
  const router = await signedBy(directory, "router-ca", "router", "clientAuth");
  const stranger = await signedBy(directory, "stranger-ca", "stranger", "clientAuth");
  return {
    directory,
    ca,
    server,
    router,
    strangerCa,
    stranger,
    renewServer: (name) => signedBy(directory, "router-ca", name, "serverAuth"),
    remove: () => rm(directory, { recursive: true, force: true }),
  };
}
