/**
 * Describes a refused upstream body for the operator's log by its shape only: kind, length and field
 * names with their types, never a value. A body that failed validation may still hold a token (or an
 * echoed secret) in a form the redaction cannot recognise, so its values never reach a log line.
 */
import { type EchoedCredentials, redactUpstream } from "../observability/redact.js";

/** What a refused body looked like, without any of its values. */
export function describeBody(body: string, credentials: EchoedCredentials): Record<string, unknown> {
  const trimmed = body.trimStart();
  if (trimmed === "") return { kind: "empty" };
  if (trimmed.startsWith("<")) return { kind: "html", length: body.length };
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) {
      const fields = Object.entries(parsed)
        .slice(0, 10)
        .map(
          ([name, value]) =>
            `${redactUpstream(name, credentials, 32)}:${Array.isArray(value) ? "array" : typeof value}`,
        );
      return { kind: "json-object", length: body.length, fields };
    }
    return { kind: `json-${Array.isArray(parsed) ? "array" : typeof parsed}`, length: body.length };
  } catch {
    return { kind: "not-json", length: body.length };
  }
}
