import { ConfigError, type Env, flag, httpUrl, oneOf, optionalText, text } from "./parse.js";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

/** The OpenTelemetry samplers of the spec's OTEL_TRACES_SAMPLER. */
export type TraceSampler =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

/** OpenTelemetry tracing, from the standard OTEL_* variables; off unless an exporter is named. */
export type TracingConfig =
  | { readonly exporter: "none" }
  | {
      readonly exporter: "otlp";
      readonly protocol: "http/json" | "http/protobuf";
      /** The full traces URL (…/v1/traces). */
      readonly endpoint: string;
      readonly serviceName: string;
      readonly sampler: TraceSampler;
      /** For the traceidratio samplers, in [0, 1]. */
      readonly samplerRatio: number;
    };

/** Logs, Apollo usage reporting and OpenTelemetry tracing. */
export interface TelemetryConfig {
  readonly logLevel: LogLevel;
  readonly apollo: { readonly key: string | undefined; readonly graphRef: string | undefined };
  readonly tracing: TracingConfig;
}

/** LOG_LEVEL, APOLLO_KEY, APOLLO_GRAPH_REF, OTEL_* (see tracingConfig) */
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
    tracing: tracingConfig(env),
  };
}

/**
 * OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER (none by default, or otlp), OTEL_EXPORTER_OTLP_[TRACES_]
 * PROTOCOL (http/protobuf by default, or http/json), OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT,
 * OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the OpenTelemetry spec
 * defines them. The spec's default exporter is otlp; here tracing stays off (and costs nothing) until
 * an operator asks for it. OTEL_EXPORTER_OTLP_HEADERS, _TIMEOUT and _COMPRESSION are read by the
 * OTLP exporter itself.
 */
export function tracingConfig(env: Env): TracingConfig {
  if (flag(env, "OTEL_SDK_DISABLED", false)) return { exporter: "none" };
  const exporter = oneOf(env, "OTEL_TRACES_EXPORTER", "none", ["none", "otlp"]);
  if (exporter === "none") return { exporter };
  const protocolVariable =
    optionalText(env, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") === undefined
      ? "OTEL_EXPORTER_OTLP_PROTOCOL"
      : "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
  const protocol = oneOf(env, protocolVariable, "http/protobuf", ["http/protobuf", "http/json"]);
  // The signal-specific endpoint is used as given; the general one gets the signal's path appended.
  const endpoint =
    optionalText(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") === undefined
      ? `${httpUrl(env, "OTEL_EXPORTER_OTLP_ENDPOINT", "http://localhost:4318")}/v1/traces`
      : httpUrl(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://localhost:4318/v1/traces");
  const sampler = oneOf<TraceSampler>(env, "OTEL_TRACES_SAMPLER", "parentbased_always_on", [
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
  ]);
  return {
    exporter,
    protocol,
    endpoint,
    serviceName: text(env, "OTEL_SERVICE_NAME", "aspose-token-subgraph"),
    sampler,
    samplerRatio: samplerRatio(env),
  };
}

function samplerRatio(env: Env): number {
  const raw = optionalText(env, "OTEL_TRACES_SAMPLER_ARG");
  if (raw === undefined) return 1;
  const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 0 && value <= 1))
    throw new ConfigError("OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1]");
  return value;
}
