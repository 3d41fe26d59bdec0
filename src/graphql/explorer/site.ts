/**
 * The explorer as the rest of the service sees it: the page Apollo serves at /graphql to a browser,
 * and the handler for its files. The page opens with the mutation (the same document clients import,
 * src/client/) and the variables to fill in, or given ones (`npm run dev`: the demo credentials).
 */
import type { IncomingMessage } from "node:http";
import { print } from "graphql";
import { AccessTokenDocument } from "../../client/index.js";
import type { Explorer } from "../../config/index.js";
import type { Reply } from "../../http/exchange.js";
import { EXPLORER_ASSET_PATH, ExplorerAssets } from "./assets.js";
import { type ExplorerPage, explorerPage } from "./page.js";

export interface ExplorerSiteOptions {
  readonly explorer: Explorer;
  /** With Apollo GraphOS: the graph the page without explorer links to in Studio. */
  readonly graphRef: string | undefined;
  /** The variables the explorer opens with; unset: the credentials' names with empty values. */
  readonly variables?: Readonly<Record<string, string>>;
}

/** The page, and the files it loads. */
export interface ExplorerSite {
  readonly page: ExplorerPage;
  readonly files: {
    /** Every file's path starts with this. */
    readonly prefix: string;
    serve(request: IncomingMessage, path: string): Promise<Reply>;
  };
}

/** The explorer page and its files, for the configured explorer. */
export function explorerSite(options: ExplorerSiteOptions): ExplorerSite {
  const assets = new ExplorerAssets();
  const variables = options.variables ?? { clientId: "", clientSecret: "" };
  return {
    page: explorerPage({
      explorer: options.explorer,
      graphRef: options.graphRef,
      start: { document: print(AccessTokenDocument), variables: JSON.stringify(variables, null, 2) },
      assetUrls: () => assets.urls(),
    }),
    files: { prefix: EXPLORER_ASSET_PATH, serve: (request, path) => assets.serve(request, path) },
  };
}
