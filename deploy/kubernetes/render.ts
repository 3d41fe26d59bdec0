/**
 * `npm run deploy:render`: writes the manifests to deploy/kubernetes/manifests/ (committed; the suite
 * fails when they drift from this code). `-- --image <ref> --out <dir>` renders them for your own
 * image into a directory of your choice.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { validateDocument } from "./validate.js";
import { MANIFESTS, manifestFiles } from "./variants.js";
import { renderFile } from "./yaml.js";

const { values } = parseArgs({ options: { image: { type: "string" }, out: { type: "string" } } });
const out = values.out ?? MANIFESTS;
mkdirSync(out, { recursive: true });
for (const file of manifestFiles(values.image)) {
  for (const object of file.objects) validateDocument(object.toJSON());
  writeFileSync(join(out, file.name), renderFile(file));
  process.stdout.write(`${join(out, file.name)}\n`);
}
