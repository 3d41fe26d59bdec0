/**
 * What a request's handling reports back to the edge: written by Apollo's outcome plugin (or by a
 * refusal before Apollo), read by the access log and the request metrics.
 */
import type { Context } from "../context.js";

/** Where the request outcome is written for the HTTP layer's log line and metrics. */
export interface OutcomeReport {
  outcome: string;
  /** Set when the document itself failed parsing or validation: the answer depends on nothing else. */
  documentRefused?: boolean;
}

/** The context Apollo sees: the resolver Context plus the outcome report. */
export type ServerContext = Context & { readonly report: OutcomeReport };
