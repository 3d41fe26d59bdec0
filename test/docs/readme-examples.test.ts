/**
 * The README (curl) and docs/clients.md (the TypeScript clients) show each client example exactly as
 * the file in examples/ that the suite compiles and runs (test/examples/): a change to either without
 * the other breaks this test, not a reader's copy.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../support/process.js";

const FENCES: Record<string, string> = { ".ts": "ts", ".sh": "sh" };

// Where each kind of example is shown, and the relative path to examples/ from there.
const PAGES: Record<string, { readonly page: string; readonly prefix: string }> = {
  ".sh": { page: "README.md", prefix: "examples/" },
  ".ts": { page: "docs/clients.md", prefix: "../examples/" },
};

test("every file in examples/ is shown, verbatim, under its name: shell in the README, TypeScript in docs/clients.md", () => {
  const files = readdirSync(join(REPO_ROOT, "examples")).sort();
  assert.ok(files.length >= 3);
  for (const file of files) {
    const kind = file.slice(file.lastIndexOf("."));
    const fence = FENCES[kind];
    const shown = PAGES[kind];
    assert.ok(fence !== undefined && shown !== undefined, `${file}: no page or fence for its kind`);
    const page = readFileSync(join(REPO_ROOT, shown.page), "utf8");
    const content = readFileSync(join(REPO_ROOT, "examples", file), "utf8");
    const block = `[\`examples/${file}\`](${shown.prefix}${file}):\n\n\`\`\`${fence}\n${content}\`\`\``;
    assert.ok(page.includes(block), `${shown.page} does not show examples/${file} as it is`);
  }
});
