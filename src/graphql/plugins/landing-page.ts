import type { ApolloServerPlugin } from "@apollo/server";
import type { ExplorerPage } from "../explorer/page.js";
import type { ServerContext } from "../outcome.js";

/**
 * Serves the explorer page (explorer/page.ts) to a browser that opens /graphql, in place of Apollo's
 * default landing pages, which need Apollo's CDN and read "it appears that you might be offline"
 * without it. Apollo answers with it any GET that prefers text/html; its headers (the
 * Content-Security-Policy) are added by the handler (http-handler.ts).
 */
export function landingPagePlugin(page: ExplorerPage): ApolloServerPlugin<ServerContext> {
  return {
    async serverWillStart() {
      return {
        async renderLandingPage() {
          return { html: () => page.html() };
        },
      };
    },
  };
}
