/**
 * A trusted-documents manifest as the two tool chains write it: Apollo's persisted query manifest
 * (`@apollo/generate-persisted-query-manifest`, what Apollo Client's persisted-queries link and GraphOS
 * read) and the flat JSON object of id to document that GraphQL Code Generator's client preset writes
 * and Hive Console's app deployments take.
 */

/** The operations of a manifest: each id's document, and every document by its exact text. */
export interface TrustedDocumentList {
  readonly byId: ReadonlyMap<string, string>;
  readonly documents: ReadonlySet<string>;
}

const APOLLO_FORMAT = "apollo-persisted-query-manifest";

/** The manifest's operations, or undefined when the text is neither format or lists nothing. */
export function readTrustedDocuments(text: string): TrustedDocumentList | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObject(parsed)) return undefined;
  const entries = "format" in parsed ? apolloEntries(parsed) : flatEntries(parsed);
  if (entries === undefined || entries.length === 0) return undefined;
  const byId = new Map<string, string>();
  for (const [id, body] of entries) {
    // The same id for two documents would make "by id" ambiguous.
    if (byId.has(id) && byId.get(id) !== body) return undefined;
    byId.set(id, body);
  }
  return { byId, documents: new Set(byId.values()) };
}

/** `{ format, version: 1, operations: [{ id, name, type, body }] }`. */
function apolloEntries(manifest: Readonly<Record<string, unknown>>): [string, string][] | undefined {
  if (manifest.format !== APOLLO_FORMAT || manifest.version !== 1) return undefined;
  const { operations } = manifest;
  if (!Array.isArray(operations)) return undefined;
  const entries: [string, string][] = [];
  for (const operation of operations) {
    if (!isObject(operation) || !isText(operation.id) || !isText(operation.body)) return undefined;
    entries.push([operation.id, operation.body]);
  }
  return entries;
}

/** `{ "<id>": "<document>" }`. */
function flatEntries(manifest: Readonly<Record<string, unknown>>): [string, string][] | undefined {
  const entries: [string, string][] = [];
  for (const [id, body] of Object.entries(manifest)) {
    if (id === "" || !isText(body)) return undefined;
    entries.push([id, body]);
  }
  return entries;
}

function isObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isText(value: unknown): value is string {
  return typeof value === "string" && value.trim() !== "";
}
