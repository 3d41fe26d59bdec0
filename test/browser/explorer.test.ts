/**
 * The explorer in real headless Chromium, on a machine with no route to the internet: `npm run dev`
 * falls back from Apollo Sandbox (whose CDN cannot be reached) to the built-in GraphiQL, which opens
 * with the demo credentials and runs the mutation to a token; with EXPLORER=graphiql no request ever
 * leaves for another host; a CDN that never answers is given up on after the page's timeout; and
 * production serves a page that needs nothing from outside. Every page runs under its strict
 * Content-Security-Policy without one violation.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Page } from "playwright-core";
import { type Child, spawnChild } from "../../dev/spawn.js";
import { type Browser, type BrowserTab, launchBrowser, type TabOptions } from "../support/browser.js";
import { startService } from "../support/process.js";

const SANDBOX_CDN = "https://embeddable-sandbox.cdn.apollographql.com/";

/** `npm run dev` as a newcomer runs it (the same script), on a free port. */
async function startDevServer(env: Record<string, string> = {}): Promise<Child & { url: string }> {
  const dev = spawnChild({
    command: process.execPath,
    args: ["--import", "tsx", "dev/dev-server.ts"],
    env: { PORT: "0", HOST: "127.0.0.1", ...env },
  });
  try {
    const ready = await dev.waitForLog(
      (line) => typeof line.port === "number",
      "the dev server's ready line",
    );
    return { ...dev, url: `http://127.0.0.1:${Number(ready.port)}/graphql` };
  } catch (error) {
    await dev.kill();
    throw error;
  }
}

/** GraphiQL's response pane, as text (CodeMirror keeps it off the DOM until scrolled into view). */
function responseText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const editor = document.querySelector(".result-window .CodeMirror");
    const codeMirror = editor === null ? undefined : Reflect.get(editor, "CodeMirror");
    return typeof codeMirror?.getValue === "function" ? String(codeMirror.getValue()) : "";
  });
}

/** Waits for GraphiQL, runs what its editors hold, and returns the parsed answer. */
async function runInGraphiQL(page: Page): Promise<{ data?: { accessToken?: { accessToken?: string } } }> {
  await page.waitForSelector(
    "#explorer[data-explorer='graphiql'][data-state='ready'] .graphiql-execute-button",
  );
  await page.click(".graphiql-execute-button");
  await page.waitForFunction(() => {
    const editor = document.querySelector(".result-window .CodeMirror");
    const value = editor === null ? "" : String(Reflect.get(editor, "CodeMirror")?.getValue() ?? "");
    return value.includes('"data"') || value.includes('"errors"');
  });
  return JSON.parse(await responseText(page));
}

describe("the explorer in headless Chromium, offline", () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(() => browser.close());

  /** Runs `check` on a new tab against `npm run dev`; closes both whatever happens. */
  async function withDevServer(
    env: Record<string, string>,
    tabOptions: TabOptions,
    check: (tab: BrowserTab, url: string) => Promise<void>,
  ): Promise<void> {
    const dev = await startDevServer(env);
    try {
      const tab = await browser.open(tabOptions);
      try {
        await check(tab, dev.url);
      } finally {
        await tab.close();
      }
    } finally {
      await dev.stop();
    }
  }

  test("npm run dev: Sandbox's CDN is unreachable, GraphiQL opens with the demo credentials and gets a token", async () => {
    await withDevServer({}, {}, async (tab, url) => {
      await tab.page.goto(url);
      const answer = await runInGraphiQL(tab.page);
      assert.match(answer.data?.accessToken?.accessToken ?? "", /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
      assert.equal(await tab.page.getAttribute("#explorer", "data-fallback"), "unreachable");
      assert.match(
        (await tab.page.textContent(".graphiql-editor-tool")) ?? "",
        /"clientSecret": "demo-client-secret"/,
      );
      // The one request for another host was Sandbox's script; GraphiQL and React came from the service.
      assert.deepEqual(
        tab.outside.map((requested) => requested.startsWith(SANDBOX_CDN)),
        [true],
      );
      assert.deepEqual(await tab.violations(), []);
    });
  });

  test("with the CDN reachable, Sandbox starts on this endpoint with the demo credentials and no cookies", async () => {
    // A stand-in for Apollo's script that records what the page asks of it.
    const fakeSandbox = "window.EmbeddedSandbox = function (options) { window.sandboxOptions = options; };";
    const script = (url: string) => (url.startsWith(SANDBOX_CDN) ? fakeSandbox : undefined);
    await withDevServer({}, { script }, async (tab, url) => {
      await tab.page.goto(`${url}?from=bookmark`);
      await tab.page.waitForSelector("#explorer[data-explorer='sandbox'][data-state='ready']");
      const options = await tab.page.evaluate(() => JSON.stringify(Reflect.get(window, "sandboxOptions")));
      const { initialEndpoint, initialState } = JSON.parse(options);
      assert.equal(initialEndpoint, url);
      assert.match(
        initialState.document,
        /^mutation AccessToken\(\$clientId: String!, \$clientSecret: String!/,
      );
      assert.deepEqual(initialState.variables, {
        clientId: "demo-client-id",
        clientSecret: "demo-client-secret",
      });
      assert.equal(initialState.includeCookies, false);
      assert.deepEqual(await tab.violations(), []);
    });
  });

  test("EXPLORER=graphiql: no request leaves for another host", async () => {
    await withDevServer({ EXPLORER: "graphiql" }, {}, async (tab, url) => {
      await tab.page.goto(url);
      const answer = await runInGraphiQL(tab.page);
      assert.match(answer.data?.accessToken?.accessToken ?? "", /^eyJ/);
      assert.equal(await tab.page.getAttribute("#explorer", "data-fallback"), null);
      assert.deepEqual(tab.outside, []);
      assert.deepEqual(await tab.violations(), []);
    });
  });

  test("a CDN that never answers is given up on after the page's timeout (a fake clock, no waiting)", async () => {
    const held = (url: string) => url.startsWith(SANDBOX_CDN);
    await withDevServer({}, { hold: held }, async (tab, url) => {
      await tab.page.clock.install();
      // Not the load event: the held script holds it back.
      await tab.page.goto(url, { waitUntil: "domcontentloaded" });
      await tab.requestedOutside(held);
      assert.equal(await tab.page.getAttribute("#explorer", "data-state"), "loading");
      await tab.page.clock.runFor(8000);
      await tab.page.clock.resume();
      const answer = await runInGraphiQL(tab.page);
      assert.match(answer.data?.accessToken?.accessToken ?? "", /^eyJ/);
      assert.equal(await tab.page.getAttribute("#explorer", "data-fallback"), "timeout");
    });
  });

  test("production: a page naming the endpoint, with no script and nothing from outside", async () => {
    const service = await startService({ NODE_ENV: "production", LOG_LEVEL: "info" });
    try {
      const tab = await browser.open();
      try {
        const response = await tab.page.goto(`${service.origin}/graphql`);
        assert.equal(response?.status(), 200);
        const policy = response?.headers()["content-security-policy"] ?? "";
        assert.match(policy, /default-src 'none'/);
        assert.doesNotMatch(policy, /script-src/);
        const text = (await tab.page.textContent("main")) ?? "";
        assert.match(text, /This is a GraphQL endpoint/);
        assert.match(text, /EXPLORER=off/);
        assert.equal(await tab.page.locator("script").count(), 0);
        assert.deepEqual(tab.outside, []);
        assert.deepEqual(await tab.violations(), []);
      } finally {
        await tab.close();
      }
    } finally {
      await service.stop();
    }
  });
});
