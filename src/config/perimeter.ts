import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { filePath, matching, text } from "./formats.js";
import { ConfigError, type Env } from "./parse.js";
import { readTrustedDocuments, type TrustedDocumentList } from "./trusted-documents.js";
import { refuse, section, type Variable } from "./section.js";

/** The files of the GraphQL port's TLS, re-read on change and on SIGHUP. */
export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** With it, callers must present a certificate this CA issued to be trusted (router-only by mTLS). */
  readonly clientCaFile: string | undefined;
}

/** Who may call /graphql, and which operations a caller the perimeter does not trust may run. */
export interface PerimeterConfig {
  /** The shared-secret header the router sends, and the one or two secrets accepted in it. */
  readonly sharedSecret: { readonly header: string; readonly secrets: readonly Buffer[] } | undefined;
  /** Hive Gateway's HMAC signing keys (one, or two while rotating); empty when not configured. */
  readonly hmacSecrets: readonly Buffer[];
  readonly tls: TlsFiles | undefined;
  /** The operations a caller without the router's proof may run, by id; undefined: any operation. */
  readonly trustedDocuments: TrustedDocumentList | undefined;
}

// Printable ASCII without spaces: it travels in an HTTP header and in an env file. 32 characters
// at least, so that `openssl rand -base64 32` (44 characters) is the smallest advice that passes.
const SECRET_TEXT = matching(
  /^[\x21-\x7e]{32,1024}$/,
  "32 to 1,024 printable ASCII characters without spaces",
);

/** The variables of the perimeter: router-only access and trusted documents. */
export const PERIMETER = section(
  "Perimeter: router-only access and trusted documents",
  "Who may call `/graphql`. Off by default: anyone who reaches the port is a client. Router-only access admits only callers that prove they are the router: a shared-secret header (Apollo Router, Apollo Gateway), Hive Gateway's HMAC signature, or a client certificate (mTLS); each configured proof is required. Other callers are refused with HTTP 403 and `ROUTER_ONLY`, or, with `TRUSTED_DOCUMENTS_FILE`, may run the listed operations only. `/healthz`, `/readyz` and `/metrics` are not behind the perimeter. How to set each gateway up, and how the proofs combine: [federation](federation.md#router-only-access); what each defends: [security](security.md).",
  {
    ROUTER_SECRET: text({
      format: SECRET_TEXT,
      secret: true,
      unset: "no shared-secret check",
      does: "The shared secret the router sends in `ROUTER_SECRET_HEADER`; a request without it (or `ROUTER_SECRET_PREVIOUS`) is not the router's.",
      details:
        "Make one with `openssl rand -base64 32` and give the router the same value (Apollo Router: `headers` in router.yaml; Apollo Gateway: `willSendRequest`). Compared in constant time; never logged.",
    }),
    ROUTER_SECRET_PREVIOUS: text({
      format: SECRET_TEXT,
      secret: true,
      unset: "only `ROUTER_SECRET` is accepted",
      does: "A second accepted shared secret, for rotation: set the new secret as `ROUTER_SECRET` and the old one here, move the router to the new one, then unset this.",
      details: "Read only with `ROUTER_SECRET`.",
    }),
    ROUTER_SECRET_HEADER: text({
      format: matching(/^[A-Za-z0-9-]{1,64}$/, "an HTTP header name (letters, digits and dashes)"),
      default: "router-authorization",
      does: "The header the router's shared secret travels in (Apollo's documented name is `Router-Authorization`).",
      details: "Read only with `ROUTER_SECRET`.",
    }),
    ROUTER_HMAC_SECRET: text({
      format: SECRET_TEXT,
      secret: true,
      unset: "no signature check",
      does: "The key of Hive Gateway's HMAC upstream signature (`hmacSignature.secret` in gateway.config.ts): a request must carry a valid `extensions.hmac-signature` over its query and variables.",
      details:
        "The signature proves the gateway sent this very operation with these variables; it is not a secret in itself, so it does not stop a replay by someone who can read the hop: use TLS as well.",
    }),
    ROUTER_HMAC_SECRET_PREVIOUS: text({
      format: SECRET_TEXT,
      secret: true,
      unset: "only `ROUTER_HMAC_SECRET` is accepted",
      does: "A second accepted HMAC key, for rotation, as with `ROUTER_SECRET_PREVIOUS`.",
      details: "Read only with `ROUTER_HMAC_SECRET`.",
    }),
    TLS_CERT_FILE: filePath({
      holds: "PEM certificate chain",
      unset: "the public port speaks plain HTTP",
      does: "The public port's certificate chain (PEM): with `TLS_KEY_FILE`, the port speaks HTTPS only.",
      details:
        "The files are read at start-up (a bad pair stops it) and again when they change or on `SIGHUP`; a pair that fails to load then keeps the previous one in use, with a warning. The admin port stays plain HTTP.",
      example: "/etc/aspose-token/tls/tls.crt",
    }),
    TLS_KEY_FILE: filePath({
      holds: "PEM private key",
      unset: "required with `TLS_CERT_FILE`",
      does: "The private key (PEM) of `TLS_CERT_FILE`.",
      example: "/etc/aspose-token/tls/tls.key",
    }),
    TLS_CLIENT_CA_FILE: filePath({
      holds: "PEM CA certificate bundle",
      unset: "no client certificate is asked for",
      does: "Router-only access by client certificate (mTLS): only a caller presenting a certificate issued by these CAs is the router.",
      details:
        "Needs `TLS_CERT_FILE`. A caller without a valid certificate still completes the handshake and is answered 403 `ROUTER_ONLY`, so the refusal is coded and counted. Reloaded with the certificate.",
      example: "/etc/aspose-token/tls/router-ca.crt",
    }),
    TRUSTED_DOCUMENTS_FILE: filePath({
      holds: "persisted query manifest (Apollo's format, or a JSON object of id to document)",
      unset: "any operation runs",
      does: "Trusted documents: a caller the perimeter does not trust may run only the operations in this manifest, by id (`extensions.persistedQuery.sha256Hash` or `documentId`) or by identical text.",
      details:
        "Apollo's `persisted-query-manifest.json` (from `@apollo/generate-persisted-query-manifest`) or a Hive / GraphQL Code Generator `persisted-documents.json`. Anything else is refused with `PERSISTED_QUERY_NOT_IN_LIST` (an unknown id) or `QUERY_NOT_IN_SAFELIST`. The router's own requests, proven as above, are not checked: behind a router, the router holds the list. Read once at start-up.",
      example: "/etc/aspose-token/persisted-query-manifest.json",
    }),
  },
);

const v = PERIMETER.variables;

/** The perimeter section from the environment: every file is read and checked now. */
export function perimeterConfig(env: Env): PerimeterConfig {
  return {
    sharedSecret: sharedSecret(env),
    hmacSecrets: rotating(env, v.ROUTER_HMAC_SECRET, v.ROUTER_HMAC_SECRET_PREVIOUS),
    tls: tlsFiles(env),
    trustedDocuments: trustedDocuments(env),
  };
}

function sharedSecret(env: Env): PerimeterConfig["sharedSecret"] {
  const secrets = rotating(env, v.ROUTER_SECRET, v.ROUTER_SECRET_PREVIOUS);
  // Read (and checked) either way: `.env.example` spells out its default.
  const header = v.ROUTER_SECRET_HEADER.read(env).toLowerCase();
  return secrets.length === 0 ? undefined : { header, secrets };
}

/** The current secret and, while rotating, the previous one; empty when neither is set. */
function rotating(
  env: Env,
  current: Variable<string | undefined>,
  previous: Variable<string | undefined>,
): Buffer[] {
  const now = current.read(env);
  const before = previous.read(env);
  if (now === undefined) {
    if (before !== undefined) throw onlyWith(previous, current);
    return [];
  }
  return before === undefined ? [Buffer.from(now)] : [Buffer.from(now), Buffer.from(before)];
}

function tlsFiles(env: Env): TlsFiles | undefined {
  const certFile = v.TLS_CERT_FILE.read(env);
  const keyFile = v.TLS_KEY_FILE.read(env);
  const clientCaFile = v.TLS_CLIENT_CA_FILE.read(env);
  if (certFile === undefined || keyFile === undefined) {
    if (certFile !== undefined) throw new ConfigError("TLS_KEY_FILE must be set with TLS_CERT_FILE");
    if (keyFile !== undefined) throw onlyWith(v.TLS_KEY_FILE, v.TLS_CERT_FILE);
    if (clientCaFile !== undefined) throw onlyWith(v.TLS_CLIENT_CA_FILE, v.TLS_CERT_FILE);
    return undefined;
  }
  const cert = certificates(v.TLS_CERT_FILE, certFile);
  const key = readable(v.TLS_KEY_FILE, keyFile);
  // Node ignores CA text that is not PEM: every client certificate would then be untrusted.
  const ca = clientCaFile === undefined ? undefined : certificates(v.TLS_CLIENT_CA_FILE, clientCaFile);
  try {
    // What the server will do with them: a key that does not match, or a file that is not PEM,
    // stops start-up here rather than at the first handshake.
    createSecureContext({ cert, key, ca });
  } catch {
    throw new ConfigError(
      "TLS_CERT_FILE, TLS_KEY_FILE and TLS_CLIENT_CA_FILE must hold a PEM certificate chain, its private key and PEM CA certificates",
    );
  }
  return { certFile, keyFile, clientCaFile };
}

function trustedDocuments(env: Env): TrustedDocumentList | undefined {
  const path = v.TRUSTED_DOCUMENTS_FILE.read(env);
  if (path === undefined) return undefined;
  const documents = readTrustedDocuments(readable(v.TRUSTED_DOCUMENTS_FILE, path).toString("utf8"));
  if (documents === undefined)
    throw new ConfigError(
      "TRUSTED_DOCUMENTS_FILE must hold an Apollo persisted query manifest or a JSON object of ids to GraphQL documents, with at least one operation",
    );
  return documents;
}

function readable(variable: Variable<unknown>, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch {
    throw refuse(variable);
  }
}

function certificates(variable: Variable<unknown>, path: string): Buffer {
  const pem = readable(variable, path);
  if (!pem.includes("-----BEGIN CERTIFICATE-----"))
    throw new ConfigError(`${variable.name} must hold PEM certificates`);
  return pem;
}

function onlyWith(variable: Variable<unknown>, needed: Variable<unknown>): ConfigError {
  return new ConfigError(`${variable.name} is only read with ${needed.name}: set ${needed.name} too`);
}
