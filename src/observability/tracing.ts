/**
 * OpenTelemetry tracing, in one place: the SDK started from the OTEL_* settings, the span around each
 * GraphQL request (continuing the caller's W3C traceparent), and the attribute names every span
 * uses. Off by default: then nothing of the SDK is even loaded and no code on the request path
 * touches OpenTelemetry (the app and the connector are built without a tracer).
 *
 * What may be an attribute: names, codes, counts, statuses and the token URL. Never a variable's
 * value, the document's text, a clientId, a secret or a token: an attribute leaves the process.
 */
import type { IncomingHttpHeaders } from "node:http";
import {
  type Context,
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from "@opentelemetry/api";
import type { TracingConfig } from "../config/index.js";
import { isServerSideFailure, type Outcome } from "../errors.js";
import { SERVICE_VERSION } from "../version.js";

/** Attribute names this service adds to the OpenTelemetry semantic conventions' own. */
export const TraceAttribute = {
  /** ok, or the coded outcome of the request (the first error's code). */
  OUTCOME: "aspose_token.outcome",
  /** Where the token came from: cache, upstream, joined (another request's call) or stale. */
  CACHE: "aspose_token.cache",
  /** The outcome class of an upstream call: 2xx, 4xx, 429, 5xx, network, oversized. */
  UPSTREAM_OUTCOME: "aspose_token.upstream.outcome",
} as const;

/** What the app needs of tracing; `enabled: false` means every method is a no-op. */
export interface Tracing {
  readonly enabled: boolean;
  /** The tracer for child spans, or undefined when tracing is off (callers then skip spans). */
  readonly tracer: Tracer | undefined;
  /**
   * Runs one GraphQL request inside a SERVER span that continues the caller's traceparent; the
   * request's status and outcome are recorded when it ends.
   */
  serve<T extends { readonly status: number; readonly outcome: Outcome }>(
    method: string,
    headers: IncomingHttpHeaders,
    run: () => Promise<T>,
  ): Promise<T>;
  /** Sends every finished span now (tests, shutdown). */
  flush(): Promise<void>;
  /** Flushes and stops the exporter. */
  shutdown(): Promise<void>;
}

/** Tracing off: nothing registered, nothing wrapped. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  tracer: undefined,
  serve: (_method, _headers, run) => run(),
  flush: async () => {},
  shutdown: async () => {},
};

/** The span of the request being served, when tracing is on and a request is in progress. */
export function activeSpan(): Span | undefined {
  return trace.getActiveSpan();
}

/**
 * Starts the OpenTelemetry SDK as configured, registered globally (W3C trace context propagation,
 * AsyncLocalStorage context), or returns TRACING_OFF without loading it.
 */
export async function startTracing(config: TracingConfig): Promise<Tracing> {
  if (config.exporter === "none") return TRACING_OFF;
  // Loaded only when asked for: an idle SDK still costs start-up time and memory.
  const [sdk, resources, core, exporter] = await Promise.all([
    import("@opentelemetry/sdk-trace-node"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/core"),
    config.protocol === "http/json"
      ? import("@opentelemetry/exporter-trace-otlp-http").then(
          ({ OTLPTraceExporter }) => new OTLPTraceExporter({ url: config.endpoint }),
        )
      : import("@opentelemetry/exporter-trace-otlp-proto").then(
          ({ OTLPTraceExporter }) => new OTLPTraceExporter({ url: config.endpoint }),
        ),
  ]);
  const ratio = new sdk.TraceIdRatioBasedSampler(config.samplerRatio);
  const sampler = {
    always_on: new sdk.AlwaysOnSampler(),
    always_off: new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: new sdk.ParentBasedSampler({ root: ratio }),
  }[config.sampler];
  const provider = new sdk.NodeTracerProvider({
    resource: resources.resourceFromAttributes({
      "service.name": config.serviceName,
      "service.version": SERVICE_VERSION,
    }),
    sampler,
    spanProcessors: [new sdk.BatchSpanProcessor(exporter)],
  });
  // Trace context only: W3C baggage is free-form and could carry anything a caller puts in it.
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  const tracer = provider.getTracer("aspose-token-subgraph", SERVICE_VERSION);
  return {
    enabled: true,
    tracer,
    serve: (method, headers, run) => serveTraced(tracer, method, headers, run),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

async function serveTraced<T extends { readonly status: number; readonly outcome: Outcome }>(
  tracer: Tracer,
  method: string,
  headers: IncomingHttpHeaders,
  run: () => Promise<T>,
): Promise<T> {
  const parent: Context = propagation.extract(ROOT_CONTEXT, headers);
  // Renamed to "mutation AccessToken" once Apollo has resolved the operation (graphql/plugins/operation-span.ts).
  const span = tracer.startSpan(
    `${method} /graphql`,
    { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "http.route": "/graphql" } },
    parent,
  );
  try {
    const reply = await context.with(trace.setSpan(parent, span), run);
    span.setAttribute("http.response.status_code", reply.status);
    span.setAttribute(TraceAttribute.OUTCOME, reply.outcome);
    if (reply.status >= 500 || isServerSideFailure(reply.outcome))
      span.setStatus({ code: SpanStatusCode.ERROR });
    return reply;
  } catch (error) {
    // The error's class only: a message may quote what the client sent.
    span.setAttribute("error.type", error instanceof Error ? error.name : "unknown");
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw error;
  } finally {
    span.end();
  }
}
