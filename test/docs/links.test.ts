/**
 * The README and the docs stay one connected manual: every relative link lands on a file that exists
 * and, when it names a heading, on a heading that exists; every page under docs/ is on the README's
 * map. A page renamed or a heading reworded breaks this test, not a reader's click.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { test } from "node:test";
import { headingAnchors, withoutCode } from "../../scripts/markdown.js";
import { REPO_ROOT } from "../support/process.js";

const PAGES = [
  "README.md",
  "bench/README.md",
  ...readdirSync(join(REPO_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => `docs/${name}`),
];

function read(path: string): string {
  return readFileSync(join(REPO_ROOT, path), "utf8");
}

test("every relative link in the README and docs/ lands on a file and heading that exist", () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    for (const [, target = ""] of withoutCode(read(page)).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target)) continue;
      const [path = "", heading] = target.split("#");
      const file = path === "" ? page : relative(REPO_ROOT, join(REPO_ROOT, dirname(page), path));
      if (!existsSync(join(REPO_ROOT, file))) broken.push(`${page}: ${target} (no such file)`);
      else if (heading !== undefined && !headingAnchors(read(file)).has(heading))
        broken.push(`${page}: ${target} (no such heading)`);
    }
  }
  assert.deepEqual(broken, []);
});

test("every page under docs/ is on the README's map", () => {
  const readme = read("README.md");
  const missing = PAGES.filter((page) => page.startsWith("docs/") && !readme.includes(`](${page})`));
  assert.deepEqual(missing, []);
});
