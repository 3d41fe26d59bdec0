import { ConfigError, type Env, oneOf, optionalText } from "./parse.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** Logs and Apollo usage reporting. */
export interface TelemetryConfig {
  readonly logLevel: LogLevel;
  readonly apollo: { readonly key: string | undefined; readonly graphRef: string | undefined };
}

/** LOG_LEVEL, APOLLO_KEY, APOLLO_GRAPH_REF */
export function telemetryConfig(env: Env): TelemetryConfig {
  const apollo = { key: optionalText(env, "APOLLO_KEY"), graphRef: optionalText(env, "APOLLO_GRAPH_REF") };
  if (apollo.key !== undefined && apollo.graphRef === undefined) {
    throw new ConfigError("APOLLO_GRAPH_REF must be set when APOLLO_KEY is set");
  }
  return {
    logLevel: oneOf<LogLevel>(env, "LOG_LEVEL", "info", [
      "fatal",
      "error",
      "warn",
      "info",
      "debug",
      "trace",
      "silent",
    ]),
    apollo,
  };
}
