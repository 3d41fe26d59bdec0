/**
 * The page a browser gets when it opens /graphql: the explorer (Apollo Sandbox with the built-in
 * GraphiQL as its fallback, or GraphiQL alone), or with EXPLORER=off a page that names the endpoint.
 * The page carries no inline script: its settings are a JSON data block and its one script is a file
 * this service serves (explorer.js), so the Content-Security-Policy allows scripts from this origin
 * only (and, for Sandbox, Apollo's CDN), styles from this origin and the page's one style block (by
 * its hash), and requests to this origin only.
 */
import { createHash } from "node:crypto";
import type { Explorer } from "../../config/index.js";
import type { AssetName } from "./assets.js";

/** Apollo's embeddable Sandbox, the major version Apollo Server 5 itself pins. */
const SANDBOX_SCRIPT =
  "https://embeddable-sandbox.cdn.apollographql.com/v2/embeddable-sandbox.umd.production.min.js";
const SANDBOX_FRAME = "https://sandbox.embed.apollographql.com";
/** How long Sandbox's script may take to arrive before the page falls back to GraphiQL. */
const SANDBOX_TIMEOUT_MS = 8000;

/** What the explorer opens with. */
export interface ExplorerStart {
  readonly document: string;
  /** The variables editor's text (JSON). */
  readonly variables: string;
}

/** The page and the headers that go with it. */
export interface ExplorerPage {
  html(): Promise<string>;
  readonly headers: Readonly<Record<string, string>>;
}

export interface ExplorerPageOptions {
  readonly explorer: Explorer;
  readonly start: ExplorerStart;
  /** The URLs of the explorer's files, relative to the page (assets.ts); loaded when first needed. */
  readonly assetUrls: () => Promise<Readonly<Record<AssetName, string>>>;
  /** With Apollo GraphOS: the graph the page links to in Studio. */
  readonly graphRef: string | undefined;
}

const STYLE = [
  "html,body{height:100%;margin:0}",
  "body{font:16px/1.5 system-ui,sans-serif;color:#1b1b1b}",
  "#explorer{height:100vh}",
  "#explorer iframe{width:100%;height:100%;border:0}",
  "main{max-width:42em;margin:3em auto;padding:0 1em}",
  "code{font-size:90%}",
].join("");
const STYLE_HASH = `'sha256-${createHash("sha256").update(STYLE).digest("base64")}'`;

/** The page for the configured explorer, with its Content-Security-Policy. */
export function explorerPage(options: ExplorerPageOptions): ExplorerPage {
  if (options.explorer === "off") {
    const html = plainPage(options.graphRef);
    return { html: async () => html, headers: pageHeaders(policy({ scripts: false, frames: [] })) };
  }
  const sandbox = options.explorer === "sandbox";
  let html: Promise<string> | undefined;
  return {
    html: () => {
      html ??= options.assetUrls().then((assets) => explorerHtml(options, assets));
      return html;
    },
    headers: pageHeaders(
      policy({
        scripts: true,
        cdn: sandbox ? new URL(SANDBOX_SCRIPT).origin : undefined,
        frames: sandbox ? [SANDBOX_FRAME] : [],
      }),
    ),
  };
}

function policy(allow: {
  readonly scripts: boolean;
  readonly cdn?: string | undefined;
  readonly frames: readonly string[];
}): string {
  const directives = [
    "default-src 'none'",
    allow.scripts ? `script-src 'self'${allow.cdn === undefined ? "" : ` ${allow.cdn}`}` : undefined,
    `style-src 'self' ${STYLE_HASH}`,
    // GraphiQL's stylesheet carries its fonts and icons as data: URLs.
    allow.scripts ? "font-src data:" : undefined,
    allow.scripts ? "img-src 'self' data:" : "img-src data:",
    allow.scripts ? "connect-src 'self'" : undefined,
    allow.frames.length > 0 ? `frame-src ${allow.frames.join(" ")}` : undefined,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ];
  return directives.filter((directive) => directive !== undefined).join("; ");
}

function pageHeaders(contentSecurityPolicy: string): Readonly<Record<string, string>> {
  return {
    "content-type": "text/html; charset=utf-8",
    "content-security-policy": contentSecurityPolicy,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  };
}

function explorerHtml(options: ExplorerPageOptions, assets: Readonly<Record<AssetName, string>>): string {
  const settings = {
    explorer: options.explorer,
    document: options.start.document,
    variables: options.start.variables,
    sandbox: { script: SANDBOX_SCRIPT, timeoutMs: SANDBOX_TIMEOUT_MS },
    assets,
  };
  return html(
    `<script type="application/json" id="explorer-settings">${jsonForHtml(settings)}</script>
<script type="module" src="${assets.page}"></script>`,
    `<div id="explorer" data-state="loading"><main><p>Loading the explorer…</p></main></div>
<noscript><main><p>The explorer needs JavaScript. ${HOW_TO_CALL}</p></main></noscript>`,
  );
}

function plainPage(graphRef: string | undefined): string {
  const studio =
    graphRef === undefined
      ? ""
      : `<p>This graph in Apollo Studio: <a href="${escapeHtml(studioUrl(graphRef))}">${escapeHtml(graphRef)}</a>.</p>`;
  return html(
    "",
    `<main>
<h1>aspose-token-subgraph</h1>
<p>This is a GraphQL endpoint. ${HOW_TO_CALL}</p>
<p>The explorer is off here (<code>EXPLORER=off</code>, the default with <code>NODE_ENV=production</code>).</p>
${studio}
</main>`,
  );
}

const HOW_TO_CALL = 'Send a POST to this URL with a JSON body <code>{"query": …, "variables": …}</code>.';

/** A page with the shared head (charset, viewport, title, no favicon request, the one style block). */
function html(head: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>aspose-token-subgraph</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
${head}
</head>
<body>
${body}
</body>
</html>
`;
}

function studioUrl(graphRef: string): string {
  const at = graphRef.indexOf("@");
  const graph = at === -1 ? graphRef : graphRef.slice(0, at);
  const variant = at === -1 ? "current" : graphRef.slice(at + 1);
  return `https://studio.apollographql.com/graph/${encodeURIComponent(graph)}/variant/${encodeURIComponent(variant)}/explorer`;
}

/** JSON that can sit inside a <script> data block: no `<`, `>` or `&` to end it early. */
function jsonForHtml(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
