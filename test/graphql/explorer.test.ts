/**
 * The explorer's page and files over real HTTP: the page carries a strict Content-Security-Policy and
 * is never stored; the files are the npm packages' own bytes, served by this service under
 * content-hashed URLs with year-long immutable caching, revalidation (304), gzip when asked, and coded
 * refusals for anything else. The browser side is in test/browser/.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gunzipSync } from "node:zlib";
import { type Harness, startHarness } from "../support/harness.js";

const HTML = { accept: "text/html,application/xhtml+xml" };

interface Settings {
  readonly explorer: string;
  readonly document: string;
  readonly variables: string;
  readonly assets: Readonly<Record<string, string>>;
}

async function page(harness: Harness): Promise<{ response: Response; html: string; settings?: Settings }> {
  const response = await fetch(harness.url, { headers: HTML });
  const html = await response.text();
  const block = /<script type="application\/json" id="explorer-settings">(.*?)<\/script>/s.exec(html)?.[1];
  return { response, html, settings: block === undefined ? undefined : JSON.parse(block) };
}

const require = createRequire(import.meta.url);
const packageFile = (name: string, path: string) =>
  readFileSync(join(dirname(require.resolve(`${name}/package.json`)), path), "utf8");

describe("the explorer page and its files", () => {
  let harness: Harness;
  let settings: Settings;
  before(async () => {
    harness = await startHarness({ env: { NODE_ENV: "development" } });
    const loaded = await page(harness);
    assert.ok(loaded.settings !== undefined, "the page has its settings block");
    settings = loaded.settings;
  });
  after(() => harness.close());

  test("the page: a strict Content-Security-Policy, never stored, the mutation with variables to fill in", async () => {
    const { response, html } = await page(harness);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    const policy = response.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      policy.split(";").map((directive) => {
        const [name = "", ...values] = directive.trim().split(/\s+/);
        return [name, values];
      }),
    );
    assert.deepEqual(directives.get("default-src"), ["'none'"]);
    // Scripts from this origin and Sandbox's CDN only: no inline script, no eval.
    assert.deepEqual(directives.get("script-src"), [
      "'self'",
      "https://embeddable-sandbox.cdn.apollographql.com",
    ]);
    assert.deepEqual(directives.get("connect-src"), ["'self'"]);
    assert.deepEqual(directives.get("frame-ancestors"), ["'none'"]);
    assert.ok(!policy.includes("unsafe-"), policy);
    // The only script element is the page's module, from this service.
    assert.deepEqual(
      [...html.matchAll(/<script([^>]*)>/g)].map(([, attributes]) => attributes?.trim()),
      ['type="application/json" id="explorer-settings"', `type="module" src="${settings.assets.page}"`],
    );
    assert.equal(settings.explorer, "sandbox");
    assert.match(settings.document, /mutation AccessToken\(\$clientId: String!, \$clientSecret: String!/);
    assert.deepEqual(JSON.parse(settings.variables), { clientId: "", clientSecret: "" });
  });

  test("every file comes from this service, with the npm package's own content", async () => {
    const expected: Record<string, string> = {
      react: packageFile("react", "umd/react.production.min.js"),
      reactDom: packageFile("react-dom", "umd/react-dom.production.min.js"),
      graphiql: packageFile("graphiql", "graphiql.min.js"),
      graphiqlCss: packageFile("graphiql", "graphiql.min.css"),
    };
    assert.deepEqual(Object.keys(settings.assets).sort(), [...Object.keys(expected), "page"].sort());
    for (const [name, content] of Object.entries(expected)) {
      const url = settings.assets[name] ?? "";
      assert.match(url, /^explorer\/[\w-]{16}\/[\w.-]+$/, "relative, content-hashed");
      const response = await fetch(new URL(url, harness.url));
      assert.equal(response.status, 200, name);
      // Source maps are not served, so the comment that would ask for one is dropped.
      const withoutMap = content.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");
      assert.equal(await response.text(), withoutMap, name);
    }
  });

  test("files are cached for a year as immutable, revalidated with their ETag, gzipped when asked", async () => {
    const url = new URL(settings.assets.graphiql ?? "", harness.url);
    const plain = await fetch(url, { headers: { "accept-encoding": "identity" } });
    const body = Buffer.from(await plain.arrayBuffer());
    assert.equal(plain.headers.get("cache-control"), "public, max-age=31536000, immutable");
    assert.equal(plain.headers.get("content-type"), "text/javascript; charset=utf-8");
    assert.equal(plain.headers.get("x-content-type-options"), "nosniff");
    assert.equal(plain.headers.get("content-encoding"), null);
    const etag = plain.headers.get("etag") ?? "";
    assert.match(etag, /^"[\w-]{16}"$/);

    const revalidated = await fetch(url, { headers: { "if-none-match": etag } });
    assert.equal(revalidated.status, 304);
    assert.equal((await revalidated.arrayBuffer()).byteLength, 0);

    // node's fetch would decompress on its own: ask over raw HTTP to see the bytes on the wire.
    const { request } = await import("node:http");
    const wire = await new Promise<{ encoding: string | undefined; bytes: Buffer }>((resolve, reject) => {
      request(url, { headers: { "accept-encoding": "gzip, deflate, br" } }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ encoding: response.headers["content-encoding"], bytes: Buffer.concat(chunks) }),
        );
      })
        .on("error", reject)
        .end();
    });
    assert.equal(wire.encoding, "gzip");
    assert.ok(wire.bytes.length < body.length / 2, "gzip at least halves GraphiQL");
    assert.deepEqual(gunzipSync(wire.bytes), body);
  });

  test("anything else under /explorer/ is a coded refusal", async () => {
    const url = new URL(settings.assets.react ?? "", harness.url);
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal((await head.arrayBuffer()).byteLength, 0);

    const post = await fetch(url, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(
      ((await post.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions.code,
      "METHOD_NOT_ALLOWED",
    );

    for (const path of [
      // A hash from another version: the page that asked is stale.
      url.pathname.replace(/\/[\w-]{16}\//, "/AAAAAAAAAAAAAAAA/"),
      "/explorer/",
      "/explorer/%2e%2e/package.json",
      `${url.pathname}/../../../package.json`,
    ]) {
      const response = await fetch(new URL(path, harness.origin));
      assert.equal(response.status, 404, path);
      assert.equal(
        ((await response.json()) as { errors: { extensions: { code: string } }[] }).errors[0]?.extensions
          .code,
        "NOT_FOUND",
      );
    }
  });
});

describe("the page for each EXPLORER", () => {
  test("graphiql: scripts from this origin only, nothing from a CDN", async () => {
    const harness = await startHarness({ env: { EXPLORER: "graphiql" } });
    try {
      const { response, settings } = await page(harness);
      const policy = response.headers.get("content-security-policy") ?? "";
      assert.match(policy, /script-src 'self';/);
      assert.doesNotMatch(policy, /https:|frame-src/);
      assert.equal(settings?.explorer, "graphiql");
    } finally {
      await harness.close();
    }
  });

  test("off (the production default): no script at all, and a link to Studio with APOLLO_GRAPH_REF", async () => {
    const harness = await startHarness({
      env: { NODE_ENV: "production", APOLLO_GRAPH_REF: "aspose-tokens@current" },
    });
    try {
      const { response, html, settings } = await page(harness);
      assert.equal(response.status, 200);
      assert.equal(settings, undefined);
      assert.doesNotMatch(html, /<script/);
      const policy = response.headers.get("content-security-policy") ?? "";
      assert.doesNotMatch(policy, /script-src|connect-src/);
      assert.match(html, /EXPLORER=off/);
      assert.match(
        html,
        /href="https:\/\/studio\.apollographql\.com\/graph\/aspose-tokens\/variant\/current\/explorer"/,
      );
    } finally {
      await harness.close();
    }
  });
});
