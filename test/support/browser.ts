/**
 * Real headless Chromium (Debian's `chromium`, installed by .ci/run), driven by playwright-core, with a
 * fresh profile (playwright's launch gives it a new --user-data-dir) and no network but loopback: every request for another host is refused at the browser
 * and recorded, so a test sees what the page tried to fetch from outside, and the page behaves as it
 * does on a machine with no route to the internet. Content-Security-Policy violations are recorded
 * from the page's own `securitypolicyviolation` events.
 */
import { existsSync } from "node:fs";
import { chromium, type Page } from "playwright-core";

export const CHROMIUM = "/usr/bin/chromium";

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** How a tab treats requests for hosts other than loopback (refused unless one of these says otherwise). */
export interface TabOptions {
  /** Leaves these unanswered: a black-holed connection, which neither loads nor fails. */
  readonly hold?: (url: string) => boolean;
  /** Answers these with this script instead (a stand-in for a CDN's). */
  readonly script?: (url: string) => string | undefined;
}

/** One browser with a throwaway profile. */
export interface Browser {
  /**
   * A new tab in a context of its own (its own cookies, storage and connections); requests off
   * loopback are refused, unless `hold` says to leave them unanswered.
   */
  open(options?: TabOptions): Promise<BrowserTab>;
  close(): Promise<void>;
}

export interface BrowserTab {
  readonly page: Page;
  /** Every request the page made for a host other than loopback, refused or held. */
  readonly outside: string[];
  /** Resolves with the first such request (made or still to come) that matches. */
  requestedOutside(predicate: (url: string) => boolean): Promise<string>;
  /** The Content-Security-Policy violations the page reported ("directive blocked-uri"). */
  violations(): Promise<string[]>;
  /** Closes the tab and its context, with every connection it held open (preconnected ones too). */
  close(): Promise<void>;
}

/** Launches Chromium; fails with the install command when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: apt-get install chromium (.ci/run installs it)`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  return {
    async open(options = {}) {
      const context = await browser.newContext();
      const page = await context.newPage();
      const outside: string[] = [];
      const waiters = new Set<(url: string) => void>();
      await page.addInitScript(() => {
        const seen: string[] = [];
        Object.defineProperty(window, "cspViolations", { value: seen });
        document.addEventListener("securitypolicyviolation", (event) => {
          seen.push(`${event.effectiveDirective} ${event.blockedURI}`);
        });
      });
      await page.route(
        (url) => url.hostname !== "127.0.0.1" && url.hostname !== "localhost",
        (route) => {
          const url = route.request().url();
          outside.push(url);
          for (const waiter of waiters) waiter(url);
          if (options.hold?.(url) === true) return;
          const script = options.script?.(url);
          if (script !== undefined)
            return route.fulfill({ status: 200, contentType: "text/javascript", body: script });
          return route.abort("internetdisconnected");
        },
      );
      return {
        page,
        outside,
        requestedOutside: (predicate) =>
          new Promise((resolve) => {
            const found = outside.find(predicate);
            if (found !== undefined) return resolve(found);
            const waiter = (url: string): void => {
              if (!predicate(url)) return;
              waiters.delete(waiter);
              resolve(url);
            };
            waiters.add(waiter);
          }),
        violations: () => page.evaluate(() => [...(Reflect.get(window, "cspViolations") as string[])]),
        close: () => context.close(),
      };
    },
    close: () => browser.close(),
  };
}
