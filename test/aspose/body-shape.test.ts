import assert from "node:assert/strict";
import { test } from "node:test";
import { describeBody } from "../../src/aspose/body-shape.js";

const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";

test("describeBody names the kind and length of a body, never a value", () => {
  assert.deepEqual(describeBody(""), { kind: "empty" });
  assert.deepEqual(describeBody("  <html>down</html>"), { kind: "html", length: 19 });
  assert.deepEqual(describeBody("[1]"), { kind: "json-array", length: 3 });
  assert.deepEqual(describeBody("not json"), { kind: "not-json", length: 8 });
  const shape = describeBody(JSON.stringify({ access_token: SECRET, expires_in: "soon", scope: ["a"] }));
  assert.deepEqual(shape.fields, ["access_token:string", "expires_in:string", "scope:array"]);
  assert.ok(!JSON.stringify(shape).includes(SECRET));
});
