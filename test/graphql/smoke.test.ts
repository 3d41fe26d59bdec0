import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  CLIENT_SECRET,
  type Harness,
  leakedSecrets,
  requestToken,
  startHarness,
} from "../support/harness.js";

let harness: Harness;
before(async () => {
  harness = await startHarness();
});
after(async () => {
  await harness.close();
});

test("a client gets the token Aspose issued, then the cached one", async () => {
  const first = await requestToken(harness);
  assert.equal(first.errors, undefined);
  assert.equal(first.data?.accessToken.fromCache, false);
  const second = await requestToken(harness);
  assert.equal(second.data?.accessToken.fromCache, true);
  assert.equal(second.data?.accessToken.accessToken, first.data?.accessToken.accessToken);
  assert.equal(harness.fake.totalTokenRequests, 1);
  assert.deepEqual(leakedSecrets(harness, [CLIENT_SECRET]), []);
});
