/**
 * An Aspose-shaped token endpoint for the memory scenario, which needs 100,000+ distinct clients.
 * dev/fake-aspose.ts signs every token with RSA (about 1 ms of the bench core each), which
 * would make the upstream, not the service, the bottleneck of the fill. This one accepts any client
 * whose secret is `bulkSecret(clientId)` and answers a JWT-shaped token of realistic size with a
 * fixed signature: the service never verifies the signature (Aspose publishes no key).
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

const TOKEN_PATH = "/v4.0/cells/connect/token";
const LIFETIME_SECONDS = 3600;
// An RS256 signature is 256 bytes: 342 base64url characters.
const SIGNATURE = createHash("sha512").update("bench").digest("base64url").repeat(4).slice(0, 342);

/** The secret the bulk upstream accepts for `clientId`. */
export function bulkSecret(clientId: string): string {
  return createHash("sha256").update(`secret:${clientId}`).digest("hex").slice(0, 32);
}

/** The Aspose-shaped fake with rule-based clients; counts token calls. */
export class BulkUpstream {
  readonly #server: Server;
  #calls = 0;
  #url = "";

  private constructor() {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const send = (status: number, body: unknown): void => {
          const text = JSON.stringify(body);
          res.writeHead(status, {
            "content-type": "application/json; charset=UTF-8",
            "cache-control": "no-store, no-cache, max-age=0",
            "content-length": Buffer.byteLength(text),
          });
          res.end(text);
        };
        if (req.method !== "POST" || req.url !== TOKEN_PATH) {
          send(404, { error: "not_found" });
          return;
        }
        this.#calls += 1;
        const form = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
        const clientId = form.get("client_id") ?? "";
        if (
          form.get("grant_type") !== "client_credentials" ||
          clientId === "" ||
          form.get("client_secret") !== bulkSecret(clientId)
        ) {
          send(400, { error: "invalid_client" });
          return;
        }
        send(200, { access_token: token(clientId), expires_in: LIFETIME_SECONDS, token_type: "Bearer" });
      });
    });
  }

  /** Listens on an ephemeral loopback port. */
  static async start(): Promise<BulkUpstream> {
    const upstream = new BulkUpstream();
    await new Promise<void>((resolve) => upstream.#server.listen(0, "127.0.0.1", () => resolve()));
    const address = upstream.#server.address() as AddressInfo; // listen() on a host and port yields an AddressInfo
    upstream.#url = `http://127.0.0.1:${address.port}`;
    return upstream;
  }

  /** Base URL, without a trailing slash. */
  get url(): string {
    return this.#url;
  }

  /** Token requests received so far. */
  get calls(): number {
    return this.#calls;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

// The claims real tokens carry, so the cached record (scopes, storage id) has its real size.
function token(clientId: string): string {
  const nbf = Math.floor(Date.now() / 1000);
  const digest = createHash("sha256").update(clientId).digest("hex");
  const claims = {
    nbf,
    exp: nbf + LIFETIME_SECONDS,
    iss: "https://api.aspose.cloud",
    aud: ["https://api.aspose.cloud", "https://api.aspose.cloud/resources"],
    client_id: clientId,
    client_default_storage: `${digest.slice(0, 8)}-${digest.slice(8, 12)}-${digest.slice(12, 16)}-${digest.slice(16, 20)}-${digest.slice(20, 32)}`,
    client_identity_user_id: String(100_000 + (Number.parseInt(digest.slice(0, 8), 16) % 900_000)),
    scope: ["api.billing", "api.identity", "api.products", "api.storage"],
  };
  const header = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");
  const payload = Buffer.from(JSON.stringify(claims)).toString("base64url");
  return `${header}.${payload}.${SIGNATURE}`;
}
