/**
 * OpenTelemetry through the official SDK, exported to an in-process OTLP receiver on loopback (a
 * node:http server taking POST /v1/traces), configured only by OTEL_* variables: the caller's
 * traceparent is continued, the operation and each upstream call get a span with their attributes,
 * and no secret, token or variable value appears anywhere in what leaves the process.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { context, propagation, trace } from "@opentelemetry/api";
import { loadConfig } from "../../src/config/index.js";
import { startTracing, TRACING_OFF, type Tracing } from "../../src/observability/tracing.js";
import { postOperation, readAnswer } from "../support/graphql-client.js";
import {
  ACCESS_TOKEN_MUTATION,
  type AccessTokenFields,
  CLIENT_ID,
  CLIENT_SECRET,
  type Harness,
  startHarness,
} from "../support/harness.js";

interface Received {
  readonly contentType: string;
  readonly body: Buffer;
}

/** A minimal OTLP/HTTP collector: records every export, answers 200 with an empty partial success. */
async function startReceiver(): Promise<{ url: string; received: Received[]; server: Server }> {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      if (request.method === "POST" && request.url === "/v1/traces") {
        received.push({ contentType: request.headers["content-type"] ?? "", body: Buffer.concat(chunks) });
      }
      const json = (request.headers["content-type"] ?? "").includes("json");
      response.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
      response.end(json ? "{}" : undefined);
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, received, server };
}

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
}

function spansOf(received: readonly Received[]): OtlpSpan[] {
  const spans: OtlpSpan[] = [];
  for (const { body } of received) {
    const parsed = JSON.parse(body.toString("utf8")) as {
      resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[];
    };
    for (const resource of parsed.resourceSpans)
      for (const scope of resource.scopeSpans) spans.push(...scope.spans);
  }
  return spans;
}

function attribute(span: OtlpSpan, key: string): string | number | boolean | undefined {
  const value = span.attributes.find((entry) => entry.key === key)?.value;
  if (value === undefined) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue;
}

// OTLP/JSON carries ids as hex strings.
const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN_ID = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`;

/** OTEL_* as an operator writes them: naming the collector is what turns tracing on. */
function tracingEnv(endpoint: string, protocol: string): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
    OTEL_SERVICE_NAME: "aspose-token-test",
  };
}

function disableGlobals(): void {
  trace.disable();
  propagation.disable();
  context.disable();
}

test("with no exporter configured, tracing is off: nothing started, nothing registered", async () => {
  const config = loadConfig({});
  assert.deepEqual(config.telemetry.tracing, { exporter: "none" });
  assert.equal(await startTracing(config.telemetry.tracing), TRACING_OFF);
  assert.equal(
    await startTracing(
      loadConfig({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }).telemetry.tracing,
    ),
    TRACING_OFF,
  );
  // The global API is still the no-op one.
  assert.equal(trace.getTracer("x").startSpan("x").isRecording(), false);
});

test("tracing follows the OpenTelemetry environment variables: on when a collector is named, off when disabled", () => {
  const tracing = (env: Record<string, string>) => {
    const config = loadConfig(env).telemetry.tracing;
    return config.exporter === "none" ? "off" : config.endpoint;
  };
  const collector = "http://collector:4318";
  const cases: [Record<string, string>, string][] = [
    [{}, "off"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: collector }, `${collector}/v1/traces`],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${collector}/custom` }, `${collector}/custom`],
    // The spec's default exporter, asked for by name, with the spec's default endpoint.
    [{ OTEL_TRACES_EXPORTER: "otlp" }, "http://localhost:4318/v1/traces"],
    // Enum words and `true` in any case, as the spec reads them.
    [{ OTEL_TRACES_EXPORTER: "OTLP" }, "http://localhost:4318/v1/traces"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_TRACES_EXPORTER: "none" }, "off"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: "true" }, "off"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: "TRUE" }, "off"],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: "false" }, `${collector}/v1/traces`],
    // An empty value is the same as unset (the spec's rule, and how env files and Helm charts blank a value).
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: " ", OTEL_TRACES_EXPORTER: "" },
      "off",
    ],
    [
      { OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: "", OTEL_TRACES_EXPORTER: "" },
      `${collector}/v1/traces`,
    ],
  ];
  for (const [env, expected] of cases) assert.equal(tracing(env), expected, JSON.stringify(env));
  // Only `true` is true: a word another tool would read as true is refused, never taken as false.
  for (const word of ["1", "yes", "on"])
    assert.throws(
      () => loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: collector, OTEL_SDK_DISABLED: word }),
      /OTEL_SDK_DISABLED must be one of true, false/,
    );
});

test("OTEL_* values outside what is supported stop start-up with a message naming the variable", () => {
  assert.throws(
    () => loadConfig({ OTEL_TRACES_EXPORTER: "zipkin" }),
    /OTEL_TRACES_EXPORTER must be one of none, otlp/,
  );
  assert.throws(
    () => loadConfig({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }),
    /OTEL_EXPORTER_OTLP_PROTOCOL must be one of http\/protobuf, http\/json/,
  );
  assert.throws(
    () => loadConfig({ OTEL_TRACES_EXPORTER: "otlp", OTEL_TRACES_SAMPLER_ARG: "2" }),
    /OTEL_TRACES_SAMPLER_ARG/,
  );
  const signal = loadConfig({
    OTEL_TRACES_EXPORTER: "otlp",
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://collector:4318/custom/traces",
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json",
  }).telemetry.tracing;
  assert.equal(signal.exporter === "otlp" && signal.endpoint, "http://collector:4318/custom/traces");
  assert.equal(signal.exporter === "otlp" && signal.protocol, "http/json");
});

describe("OTLP http/json", () => {
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let tracing: Tracing;
  let harness: Harness;
  const tokens: string[] = [];

  before(async () => {
    receiver = await startReceiver();
    const env = tracingEnv(receiver.url, "http/json");
    tracing = await startTracing(loadConfig(env).telemetry.tracing);
    harness = await startHarness({ env, tracing });
    // A miss that Aspose answers 503 first (one retry), then a hit; both continuing the caller's trace.
    harness.fake.failNext({ kind: "status", status: 503 });
    for (let i = 0; i < 2; i++) {
      const answer = await readAnswer<{ accessToken: AccessTokenFields }>(
        await postOperation(
          harness.url,
          ACCESS_TOKEN_MUTATION,
          { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
          { traceparent: TRACEPARENT },
        ),
      );
      assert.equal(answer.errors, undefined, answer.text);
      tokens.push(answer.data?.accessToken.accessToken ?? "");
    }
    await tracing.flush();
  });

  after(async () => {
    await harness?.close();
    receiver?.server.close();
    disableGlobals();
  });

  test("exports OTLP/JSON to OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces, with the service name", () => {
    assert.ok(receiver.received.length > 0);
    assert.match(receiver.received[0]?.contentType ?? "", /application\/json/);
    assert.match(receiver.received[0]?.body.toString("utf8") ?? "", /"aspose-token-test"/);
  });

  test("the operation span continues the caller's traceparent and is named after the operation", () => {
    const operations = spansOf(receiver.received).filter((span) => span.kind === 2); // SERVER
    assert.equal(operations.length, 2);
    for (const span of operations) {
      assert.equal(span.traceId, TRACE_ID);
      assert.equal(span.parentSpanId, PARENT_SPAN_ID);
      assert.equal(span.name, "mutation AccessToken");
      assert.equal(attribute(span, "graphql.operation.type"), "mutation");
      assert.equal(attribute(span, "graphql.operation.name"), "AccessToken");
      assert.equal(attribute(span, "http.response.status_code"), 200);
      assert.equal(attribute(span, "aspose_token.outcome"), "ok");
    }
    assert.deepEqual(
      operations.map((span) => attribute(span, "aspose_token.cache")),
      ["upstream", "cache"],
    );
  });

  test("one upstream span, a child of the miss's operation span, with retries and status", () => {
    const spans = spansOf(receiver.received);
    const upstream = spans.filter((span) => span.kind === 3); // CLIENT
    assert.equal(upstream.length, 1, "the hit made no upstream call");
    const [call] = upstream;
    const miss = spans.find(
      (span) => span.kind === 2 && attribute(span, "aspose_token.cache") === "upstream",
    );
    assert.equal(call?.traceId, TRACE_ID);
    assert.equal(call?.parentSpanId, miss?.spanId);
    assert.equal(call && attribute(call, "http.request.resend_count"), 1);
    assert.equal(call && attribute(call, "http.response.status_code"), 200);
    assert.equal(call && attribute(call, "aspose_token.upstream.outcome"), "2xx");
    const url = String(call && attribute(call, "url.full"));
    assert.ok(url.startsWith(harness.fake.url) && url.endsWith("/connect/token"), url);
  });

  test("no secret, token, clientId or other variable value appears in the exported payload", () => {
    const payload = receiver.received.map(({ body }) => body.toString("utf8")).join("\n");
    for (const value of [CLIENT_SECRET, CLIENT_ID, ...tokens]) {
      assert.ok(value.length > 0);
      assert.ok(!payload.includes(value), `exported payload contains ${value.slice(0, 6)}…`);
    }
  });
});

describe("OTLP http/protobuf", () => {
  test("exports protobuf with the caller's trace id, and no secret or token in the bytes", async () => {
    const receiver = await startReceiver();
    const env = tracingEnv(receiver.url, "http/protobuf");
    const tracing = await startTracing(loadConfig(env).telemetry.tracing);
    const harness = await startHarness({ env, tracing });
    try {
      const answer = await readAnswer<{ accessToken: AccessTokenFields }>(
        await postOperation(
          harness.url,
          ACCESS_TOKEN_MUTATION,
          { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET },
          { traceparent: TRACEPARENT },
        ),
      );
      assert.equal(answer.errors, undefined, answer.text);
      await tracing.flush();
      assert.ok(receiver.received.length > 0);
      assert.match(receiver.received[0]?.contentType ?? "", /application\/x-protobuf/);
      const bytes = Buffer.concat(receiver.received.map(({ body }) => body));
      assert.ok(bytes.includes(Buffer.from(TRACE_ID, "hex")), "the caller's trace id is exported");
      assert.ok(bytes.includes(Buffer.from("mutation AccessToken")));
      for (const value of [CLIENT_SECRET, CLIENT_ID, answer.data?.accessToken.accessToken ?? "-"]) {
        assert.ok(!bytes.includes(Buffer.from(value)), `exported bytes contain ${value.slice(0, 6)}…`);
      }
    } finally {
      await harness.close();
      receiver.server.close();
      disableGlobals();
    }
  });
});
