import { Counter, Gauge, type Registry } from "prom-client";

/** What the public port holds at one instant. */
export interface EdgeLoadSample {
  readonly openConnections: number;
  readonly bodyBytes: number;
  readonly waitingRequests: number;
}

/** The public port's series: what its flood limits shed, what the perimeter refused, what it holds. */
export class EdgeMetrics {
  readonly #registry: Registry;
  readonly #connectionsShed: Counter<"reason">;
  readonly #perimeterRefusals: Counter<"reason">;

  constructor(registry: Registry) {
    this.#registry = registry;
    this.#connectionsShed = new Counter({
      name: "http_connections_shed_total",
      help: "Connections the public port closed, or requests it refused, to protect itself, by reason: connection_cap, address_limit, slow_body, body_budget, send_timeout",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.#perimeterRefusals = new Counter({
      name: "perimeter_refusals_total",
      help: "Requests to /graphql the perimeter refused, by reason: secret_missing, secret_wrong, signature_missing, signature_wrong, certificate_missing, certificate_untrusted (not the router, under router-only access), document_not_listed (not a trusted document)",
      labelNames: ["reason"],
      registers: [registry],
    });
  }

  /** Counts one connection closed or request refused by the public port's flood limits. */
  connectionShed(reason: string): void {
    this.#connectionsShed.inc({ reason });
  }

  /** Counts one request the perimeter refused, by the proof or list that refused it (a closed set). */
  perimeterRefusal(reason: string): void {
    this.#perimeterRefusals.inc({ reason });
  }

  /** Exposes what the public port holds, read at scrape time. */
  watch(load: () => EdgeLoadSample): void {
    const gauge = (name: string, help: string, read: (sample: EdgeLoadSample) => number): void => {
      new Gauge({
        name,
        help,
        registers: [this.#registry],
        collect() {
          this.set(read(load()));
        },
      });
    };
    gauge("http_connections_open", "Connections open on the public port", (sample) => sample.openConnections);
    gauge(
      "http_request_body_bytes",
      "Bytes held by request bodies still arriving on the public port (bounded by REQUEST_BODY_BUDGET_BYTES)",
      (sample) => sample.bodyBytes,
    );
    gauge(
      "http_pipelined_requests_waiting",
      "Pipelined requests read and waiting for their connection's turn (PIPELINE_DEPTH)",
      (sample) => sample.waitingRequests,
    );
  }
}
