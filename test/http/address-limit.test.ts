/** The key a client address is counted under for MAX_CONNECTIONS_PER_ADDRESS, and the count itself. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { AddressLimit, addressKey } from "../../src/http/address-limit.js";

test("IPv4 counts per address, IPv4-mapped IPv6 as its IPv4 address", () => {
  assert.equal(addressKey("203.0.113.9"), "203.0.113.9");
  assert.equal(addressKey("::ffff:203.0.113.9"), "203.0.113.9");
  assert.notEqual(addressKey("203.0.113.9"), addressKey("203.0.113.10"));
});

test("IPv6 counts per /64: a host cannot dodge the limit by walking its own prefix", () => {
  const one = addressKey("2001:db8:1:2:aaaa::1");
  assert.equal(one, addressKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff"));
  assert.equal(one, addressKey("2001:db8:1:2::"));
  assert.notEqual(one, addressKey("2001:db8:1:3::1"));
  assert.equal(addressKey("::1"), addressKey("::2"));
});

test("an address that does not parse is counted as written", () => {
  assert.equal(addressKey("not:an:address"), "not:an:address");
});

test("the limit admits up to its count per key and takes back what it gave", () => {
  const limit = new AddressLimit(2);
  assert.equal(limit.admit("a"), true);
  assert.equal(limit.admit("a"), true);
  assert.equal(limit.admit("a"), false);
  assert.equal(limit.admit("b"), true);
  limit.release("a");
  assert.equal(limit.admit("a"), true);
  assert.equal(limit.admit("a"), false);
});
