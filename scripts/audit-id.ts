/**
 * `npm run -s audit:id -- <clientId> [...]`: prints, one a line, the identifier that stands for each
 * clientId in the audit log (`clientIdHmac`), computed with the service's own audit key: AUDIT_KEY, or
 * the key derived from TOKEN_CACHE_KEY, read from the environment and the `.env` file the service reads
 * (`npm start`'s --env-file-if-exists). Search the audit log for the line it prints.
 */
import { auditConfig } from "../src/config/audit.js";
import { ConfigError, unsetBlankVariables } from "../src/config/index.js";
import { tokensConfig } from "../src/config/tokens.js";
import { AuditIdentifier } from "../src/observability/audit-id.js";

const clientIds = process.argv.slice(2);
if (clientIds.length === 0) {
  process.stderr.write("usage: npm run -s audit:id -- <clientId> [<clientId> ...]\n");
  process.exit(2);
}

unsetBlankVariables(process.env);
try {
  const audit = auditConfig(process.env, tokensConfig(process.env));
  if (audit.keySource === "per-process") {
    process.stderr.write(
      "Neither AUDIT_KEY nor TOKEN_CACHE_KEY is set: the service keys audit identifiers with a key of its own process, which no one can compute. Set AUDIT_KEY (or TOKEN_CACHE_KEY) for the service and here.\n",
    );
    process.exit(78); // EX_CONFIG
  }
  const identifier = new AuditIdentifier(audit.key);
  process.stdout.write(clientIds.map((clientId) => `${identifier.of(clientId)}\n`).join(""));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`Invalid configuration: ${error.message}\n`);
  process.exit(78);
}
