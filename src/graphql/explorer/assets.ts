/**
 * The explorer's files, served by this service itself and never from a CDN: GraphiQL 4's bundled
 * build and React 18's UMD builds, from the npm packages they ship in (no bundler, no build step), and
 * the page's own script (explorer.js, beside this file). Each file's URL carries a hash of its content,
 * so a browser keeps it for a year without asking again (immutable) and a new version is a new URL.
 * The files are read, hashed and gzipped once, on the first request that needs them.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import Negotiator from "negotiator";
import { HttpCode, OutcomeLabel } from "../../errors.js";
import { jsonError, type Reply } from "../../http/exchange.js";

/** Where the explorer's files are served: `/explorer/<content hash>/<file name>`. */
export const EXPLORER_ASSET_PATH = "/explorer/";

const JS = "text/javascript; charset=utf-8";
const CSS = "text/css; charset=utf-8";

const require = createRequire(import.meta.url);
const inPackage = (name: string, path: string): string =>
  join(dirname(require.resolve(`${name}/package.json`)), path);

/** The files, by the name the page's settings give them. */
const FILES = {
  react: { file: inPackage("react", "umd/react.production.min.js"), type: JS },
  reactDom: { file: inPackage("react-dom", "umd/react-dom.production.min.js"), type: JS },
  // graphiql 4 is the last major with a prebuilt browser bundle (graphiql 5 ships ESM only).
  graphiql: { file: inPackage("graphiql", "graphiql.min.js"), type: JS },
  graphiqlCss: { file: inPackage("graphiql", "graphiql.min.css"), type: CSS },
  page: { file: fileURLToPath(new URL("./explorer.js", import.meta.url)), type: JS },
} as const;

/** A name of one of the explorer's files. */
export type AssetName = keyof typeof FILES;

interface Asset {
  readonly body: Buffer;
  readonly gzipped: Buffer;
  readonly type: string;
  readonly etag: string;
}

interface Loaded {
  /** Each file's URL path relative to the page (`explorer/<hash>/<name>`). */
  readonly urls: Readonly<Record<AssetName, string>>;
  readonly byPath: ReadonlyMap<string, Asset>;
}

const CACHED = "public, max-age=31536000, immutable";

/** The explorer's files: their URLs for the page, and the handler that serves them. */
export class ExplorerAssets {
  #loaded: Promise<Loaded> | undefined;

  /** Each file's URL relative to the page at /graphql. */
  async urls(): Promise<Readonly<Record<AssetName, string>>> {
    return (await this.#load()).urls;
  }

  /** Answers a request for one of the files (the path starts with EXPLORER_ASSET_PATH). */
  async serve(request: IncomingMessage, path: string): Promise<Reply> {
    const method = request.method ?? "GET";
    if (method !== "GET" && method !== "HEAD")
      return jsonError(405, HttpCode.METHOD_NOT_ALLOWED, "Method not allowed.");
    const asset = (await this.#load()).byPath.get(path);
    // An unknown name, or a hash from before a new version: the page that asked is stale.
    if (asset === undefined)
      return jsonError(404, HttpCode.NOT_FOUND, "Not found. GraphQL is served at /graphql.");
    const headers: Record<string, string> = {
      "content-type": asset.type,
      "cache-control": CACHED,
      etag: asset.etag,
      vary: "accept-encoding",
      "x-content-type-options": "nosniff",
      "cross-origin-resource-policy": "same-origin",
    };
    if (request.headers["if-none-match"] === asset.etag)
      return { status: 304, headers, body: "", outcome: OutcomeLabel.OK };
    const gzipped = new Negotiator(request).encoding(["gzip", "identity"]) === "gzip";
    if (gzipped) headers["content-encoding"] = "gzip";
    return { status: 200, headers, body: gzipped ? asset.gzipped : asset.body, outcome: OutcomeLabel.OK };
  }

  #load(): Promise<Loaded> {
    this.#loaded ??= loadAssets();
    return this.#loaded;
  }
}

async function loadAssets(): Promise<Loaded> {
  const compress = promisify(gzip);
  const entries = await Promise.all(
    Object.entries(FILES).map(async ([name, { file, type }]) => {
      // Source maps are not served: drop the comment that would make developer tools ask for one.
      const text = (await readFile(file, "utf8")).replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
      const body = Buffer.from(text);
      const hash = createHash("sha256").update(body).digest("base64url").slice(0, 16);
      const fileName = name === "page" ? "explorer.js" : file.slice(file.lastIndexOf("/") + 1);
      const asset: Asset = { body, gzipped: await compress(body, { level: 9 }), type, etag: `"${hash}"` };
      return { name, path: `${EXPLORER_ASSET_PATH}${hash}/${fileName}`, asset };
    }),
  );
  return {
    // Relative: the page at …/graphql finds them at …/explorer/, whatever prefix a proxy adds.
    urls: Object.fromEntries(entries.map(({ name, path }) => [name, path.slice(1)])) as Record<
      AssetName,
      string
    >, // Object.fromEntries loses the keys' types; they are exactly FILES' keys.
    byPath: new Map(entries.map(({ path, asset }) => [path, asset])),
  };
}
