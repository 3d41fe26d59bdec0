import { anyText, httpUrl, text } from "./formats.js";
import { ConfigError, type Env, oneOf, ratio } from "./parse.js";
import { section } from "./section.js";

/** pino's levels, as LOG_LEVEL accepts them. */
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The OpenTelemetry samplers of the spec's OTEL_TRACES_SAMPLER. */
export type TraceSampler =
  | "always_on"
  | "always_off"
  | "traceidratio"
  | "parentbased_always_on"
  | "parentbased_always_off"
  | "parentbased_traceidratio";

/** OpenTelemetry tracing, from the standard OTEL_* variables: on when a collector is named. */
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

const PROTOCOLS = ["http/protobuf", "http/json"] as const;
/** The spec's default collector (OTLP/HTTP on this host). */
const DEFAULT_OTLP_ENDPOINT = "http://localhost:4318";

/**
 * The OTEL_* variables are read as the OpenTelemetry environment specification defines them (blank is
 * unset, `true` is the only true, enum words in any case), with two deviations, both documented: a
 * value outside what is supported stops start-up instead of being ignored with a warning, and with
 * `OTEL_TRACES_EXPORTER` unset the spec's default exporter (`otlp`) is used only when a collector is
 * named, so that a service nobody asked to trace neither loads the SDK nor sends spans to a
 * localhost:4318 where nothing listens.
 */
export const TELEMETRY = section(
  "Logs, Apollo GraphOS and tracing",
  "The log level, Apollo GraphOS usage reporting, and OpenTelemetry tracing through the standard `OTEL_*` variables: tracing is on when a collector is named (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp` is set, and off with `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`; the start-up line says which. `OTEL_EXPORTER_OTLP_HEADERS` (which may hold a collector's token), `OTEL_EXPORTER_OTLP_TIMEOUT` and `OTEL_EXPORTER_OTLP_COMPRESSION` are not read here but by the OTLP exporter itself, as the spec defines them. What is logged, measured and traced is in [operations](operations.md).",
  {
    LOG_LEVEL: oneOf({
      allowed: LOG_LEVELS,
      default: "info",
      does: "The level of the JSON log lines on stdout (pino's levels).",
      details: "At `info` every request writes one access-log line; `warn` drops them.",
    }),
    APOLLO_KEY: text({
      format: anyText("an Apollo GraphOS API key"),
      secret: true,
      unset: "no usage reporting",
      does: "Turns on Apollo GraphOS usage reporting, which never sends variable values or request headers, with error messages masked.",
      details:
        "Needs `APOLLO_GRAPH_REF`. Leave it unset when the router reports usage: the subgraph still returns federated traces (ftv1) to the router.",
    }),
    APOLLO_GRAPH_REF: text({
      format: anyText("a graph ref such as my-graph@current"),
      unset: "required with `APOLLO_KEY`",
      does: "The graph and variant usage is reported to, and that the production landing page links to in Studio.",
      example: "my-graph@current",
    }),
    OTEL_SDK_DISABLED: oneOf({
      allowed: ["true", "false"],
      ignoreCase: true,
      unset: "tracing as the other variables say",
      does: "`true` turns tracing off, whatever else is set.",
      details:
        "As the spec defines it, only `true` (in any case) is true; a value other than `true` or `false` stops start-up rather than silently meaning `false`.",
    }),
    OTEL_TRACES_EXPORTER: oneOf({
      allowed: ["none", "otlp"],
      ignoreCase: true,
      unset:
        "`otlp` when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, else `none`",
      does: "`otlp` exports spans over OTLP/HTTP (to `http://localhost:4318` unless an endpoint is set); `none` turns tracing off.",
      details:
        "With tracing off the OpenTelemetry SDK is not even loaded and the request path makes no OpenTelemetry call. Other exporters (`console`, `zipkin`, lists) are refused.",
    }),
    OTEL_EXPORTER_OTLP_PROTOCOL: oneOf({
      allowed: PROTOCOLS,
      ignoreCase: true,
      default: "http/protobuf",
      does: "The OTLP encoding: `http/protobuf` or `http/json` (`grpc` is not supported and is refused).",
    }),
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: oneOf({
      allowed: PROTOCOLS,
      ignoreCase: true,
      unset: "the same as `OTEL_EXPORTER_OTLP_PROTOCOL`",
      does: "The OTLP encoding for traces, in place of `OTEL_EXPORTER_OTLP_PROTOCOL`.",
    }),
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl({
      unset: "`http://localhost:4318`, the spec's default, when `OTEL_TRACES_EXPORTER=otlp` turns tracing on",
      does: "The collector's base URL: spans go to this + `/v1/traces`. Setting it turns tracing on.",
      example: "http://otel-collector:4318",
    }),
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: httpUrl({
      unset: "`OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`",
      does: "The full traces URL, used as given, in place of `OTEL_EXPORTER_OTLP_ENDPOINT`. Setting it turns tracing on.",
      example: "http://otel-collector:4318/v1/traces",
    }),
    OTEL_SERVICE_NAME: text({
      format: anyText("a service name"),
      default: "aspose-token-subgraph",
      does: "The `service.name` resource attribute on every span.",
    }),
    OTEL_TRACES_SAMPLER: oneOf({
      ignoreCase: true,
      allowed: [
        "always_on",
        "always_off",
        "traceidratio",
        "parentbased_always_on",
        "parentbased_always_off",
        "parentbased_traceidratio",
      ],
      default: "parentbased_always_on",
      does: "Which requests are traced: the spec's samplers; the `parentbased_` ones follow the caller's `traceparent` decision.",
    }),
    OTEL_TRACES_SAMPLER_ARG: ratio({
      default: 1,
      includingOne: true,
      does: "The share of traces kept by the `traceidratio` samplers.",
      example: "0.1",
    }),
  },
);

const v = TELEMETRY.variables;

/** The telemetry section from the environment. */
export function telemetryConfig(env: Env): TelemetryConfig {
  const apollo = { key: v.APOLLO_KEY.read(env), graphRef: v.APOLLO_GRAPH_REF.read(env) };
  if (apollo.key !== undefined && apollo.graphRef === undefined) {
    throw new ConfigError("APOLLO_GRAPH_REF must be set when APOLLO_KEY is set");
  }
  return { logLevel: v.LOG_LEVEL.read(env), apollo, tracing: tracingConfig(env) };
}

function tracingConfig(env: Env): TracingConfig {
  if (v.OTEL_SDK_DISABLED.read(env) === "true") return { exporter: "none" };
  const named = v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.isSet(env) || v.OTEL_EXPORTER_OTLP_ENDPOINT.isSet(env);
  const exporter = v.OTEL_TRACES_EXPORTER.read(env) ?? (named ? "otlp" : "none");
  if (exporter === "none") return { exporter };
  const protocol = v.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL.read(env) ?? v.OTEL_EXPORTER_OTLP_PROTOCOL.read(env);
  // The signal-specific endpoint is used as given; the general one gets the signal's path appended.
  const endpoint =
    v.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT.read(env) ??
    `${v.OTEL_EXPORTER_OTLP_ENDPOINT.read(env) ?? DEFAULT_OTLP_ENDPOINT}/v1/traces`;
  return {
    exporter,
    protocol,
    endpoint,
    serviceName: v.OTEL_SERVICE_NAME.read(env),
    sampler: v.OTEL_TRACES_SAMPLER.read(env),
    samplerRatio: v.OTEL_TRACES_SAMPLER_ARG.read(env),
  };
}
