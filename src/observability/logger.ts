import { type DestinationStream, type Logger, pino } from "pino";
import type { LogLevel } from "../config/index.js";
import { LOG_REDACT_PATHS } from "./redact.js";

/** Structured JSON logs with secrets redacted by path, wherever a careless call might put them. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: "aspose-token-subgraph" },
    redact: { paths: [...LOG_REDACT_PATHS], censor: "[REDACTED]" },
    // Serialise errors without their own enumerable properties (a got error carries its options,
    // form body included).
    serializers: { err: errorSerializer },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

function errorSerializer(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error };
  return {
    type: error.name,
    message: error.message.slice(0, 500),
    code: "code" in error && typeof error.code === "string" ? error.code : undefined,
    stack: error.stack?.split("\n").slice(0, 8).join("\n"),
  };
}
