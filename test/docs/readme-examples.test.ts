/**
 * The README shows each client example exactly as the file in examples/ that the suite compiles and
 * runs (test/examples/): a change to either without the other breaks this test, not a reader's copy.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { REPO_ROOT } from "../support/process.js";

const FENCES: Record<string, string> = { ".ts": "ts", ".sh": "sh" };

test("every file in examples/ is in the README, verbatim, under its name", () => {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const files = readdirSync(join(REPO_ROOT, "examples")).sort();
  assert.ok(files.length >= 3);
  for (const file of files) {
    const fence = FENCES[file.slice(file.lastIndexOf("."))];
    assert.ok(fence !== undefined, `${file}: no README fence for its kind`);
    const content = readFileSync(join(REPO_ROOT, "examples", file), "utf8");
    const block = `[\`examples/${file}\`](examples/${file}):\n\n\`\`\`${fence}\n${content}\`\`\``;
    assert.ok(readme.includes(block), `the README does not show examples/${file} as it is`);
  }
});
