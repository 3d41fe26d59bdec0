import assert from "node:assert/strict";
import { test } from "node:test";
import { describeBody } from "../../src/aspose/body-shape.js";
import { testCredential } from "../support/credentials.js";

const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";
const CREDENTIALS = testCredential("id-1", "short-s3cret");

test("describeBody names the kind and length of a body, never a value", () => {
  assert.deepEqual(describeBody("", CREDENTIALS), { kind: "empty" });
  assert.deepEqual(describeBody("  <html>down</html>", CREDENTIALS), { kind: "html", length: 19 });
  assert.deepEqual(describeBody("[1]", CREDENTIALS), { kind: "json-array", length: 3 });
  assert.deepEqual(describeBody("not json", CREDENTIALS), { kind: "not-json", length: 8 });
  const shape = describeBody(
    JSON.stringify({ access_token: SECRET, expires_in: "soon", scope: ["a"] }),
    CREDENTIALS,
  );
  assert.deepEqual(shape.fields, ["access_token:string", "expires_in:string", "scope:array"]);
  assert.ok(!JSON.stringify(shape).includes(SECRET));
});

test("describeBody never shows the call's secret, even as a field name too short to look opaque", () => {
  const shape = describeBody(JSON.stringify({ [CREDENTIALS.exposeSecret()]: 1 }), CREDENTIALS);
  assert.ok(!JSON.stringify(shape).includes(CREDENTIALS.exposeSecret()), JSON.stringify(shape));
});
