import type { IncomingMessage } from "node:http";
import { TLSSocket } from "node:tls";
import type { RefusalReason } from "./refusal.js";

/**
 * A client certificate issued by TLS_CLIENT_CA_FILE's CAs (mTLS). The TLS server asks for a certificate
 * without refusing the handshake (see http/tls.ts), so a caller without one gets a coded answer
 * here rather than a reset connection.
 */
export function clientCertificateCheck(request: IncomingMessage): RefusalReason | undefined {
  const socket = request.socket;
  if (!(socket instanceof TLSSocket)) return "certificate_missing";
  if (socket.authorized) return undefined;
  const presented = Object.keys(socket.getPeerCertificate()).length > 0;
  return presented ? "certificate_untrusted" : "certificate_missing";
}
