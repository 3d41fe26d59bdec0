/**
 * Redaction on its own: redactText for foreign text, and the redact paths of the real pino logger.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import { createLogger } from "../../src/observability/logger.js";
import { redactText } from "../../src/observability/redact.js";
import { lineSink } from "../support/connector.js";

const SECRET = "9b1e7c4d2a8f4e6b8c0d1f2a3b4c5d6e";
const JWT =
  "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJuYmYiOjE3OTU2MDgwMDAsImV4cCI6MTc5NTYxMTYwMH0.c2lnbmF0dXJlLXNpZ25hdHVyZQ";

// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

describe("redactText", () => {
  test("removes the given secret in raw, URI-encoded and form-encoded forms", () => {
    const secret = "p+a/s=s&w o%rd";
    const form = new URLSearchParams({ client_id: "id", client_secret: secret }).toString();
    for (const text of [
      `raw ${secret} end`,
      `uri ${encodeURIComponent(secret)} end`,
      `body: grant_type=client_credentials&${form}`,
    ]) {
      const out = redactText(text, [secret], 500);
      assert.ok(!out.includes(secret), out);
      assert.ok(!out.includes(encodeURIComponent(secret)), out);
      assert.ok(!out.includes(new URLSearchParams({ s: secret }).toString().slice(2)), out);
      assert.match(out, /\[REDACTED\]/);
    }
  });

  test("removes a secret as a JSON body shows it, with its quotes and backslashes escaped", () => {
    const secret = 'q"uo\\te-s3cr';
    const body = JSON.stringify({ error: "invalid_client", error_description: `secret ${secret} refused` });
    const out = redactText(body, [secret], 500);
    assert.ok(!out.includes(JSON.stringify(secret).slice(1, -1)), out);
    assert.match(out, /\[REDACTED\]/);
  });

  test("replaces JWT-shaped and long opaque strings even when no secret is named", () => {
    const out = redactText(`{"access_token":"${JWT}","x":"${"A1b2".repeat(15)}"}`, [], 500);
    assert.ok(!out.includes(JWT));
    assert.ok(!out.includes("A1b2".repeat(15)));
    assert.match(out, /\[TOKEN\]/);
    assert.match(out, /\[OPAQUE\]/);
  });

  test("removes control characters, so foreign text cannot forge log lines", () => {
    const out = redactText('ok\n{"level":60,"msg":"forged"}\r\u0000\u001b[31m\u007f', [], 500);
    assert.doesNotMatch(out, CONTROL);
    assert.ok(!out.includes("\n"));
  });

  test("truncates to the maximum length", () => {
    const out = redactText("word ".repeat(1000), [], 100);
    assert.ok(out.length <= 101, `${out.length}`);
    assert.ok(out.endsWith("…"));
    assert.equal(redactText("short", [], 100), "short");
  });

  test("property: a secret placed anywhere in foreign text never survives", () => {
    // Secrets as a careless upstream might echo them: no spaces or brackets, and not made only of the
    // upper-case letters the replacement markers use (a secret "ACTED" is inside "[REDACTED]").
    const secretChar = fc.constantFrom(
      ..."abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=&%-_.~!*'()@:;,?#$",
    );
    const secretArb = fc
      .string({ unit: secretChar, minLength: 8, maxLength: 64 })
      .filter((s) => /[^A-Z]/.test(s));
    const around = fc.string({ unit: "binary", maxLength: 150 });
    fc.assert(
      fc.property(
        around,
        secretArb,
        around,
        fc.constantFrom("raw", "uri", "form"),
        fc.integer({ min: 20, max: 300 }),
        (before, secret, after, form, maxLength) => {
          const shown =
            form === "raw"
              ? secret
              : form === "uri"
                ? encodeURIComponent(secret)
                : new URLSearchParams({ client_secret: secret }).toString();
          const out = redactText(`${before}${shown}${after}`, [secret], maxLength);
          assert.ok(!out.includes(secret));
          assert.ok(!out.includes(encodeURIComponent(secret)));
          assert.ok(out.length <= maxLength + 1);
          assert.doesNotMatch(out, CONTROL);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("createLogger", () => {
  function capture(): { logger: ReturnType<typeof createLogger>; lines: string[] } {
    const lines: string[] = [];
    return { logger: createLogger("debug", lineSink(lines)), lines };
  }

  test("redacts clientSecret, variables and the Authorization header wherever a careless call puts them", () => {
    const { logger, lines } = capture();
    const authorization = `Bearer ${JWT}`;
    logger.info(
      {
        clientSecret: SECRET,
        variables: { clientId: "id", clientSecret: SECRET },
        headers: { authorization, cookie: `session=${SECRET}` },
      },
      "careless",
    );
    logger.warn({ request: { variables: { s: SECRET }, headers: { authorization } } }, "nested");
    logger.error({ req: { headers: { authorization } }, client_secret: SECRET, access_token: JWT }, "shapes");
    logger.info({ upstream: { accessToken: JWT, password: SECRET } }, "token");
    assert.equal(lines.length, 4);
    for (const line of lines) {
      assert.ok(!line.includes(SECRET), line);
      assert.ok(!line.includes(JWT), line);
      assert.ok(!line.includes(authorization), line);
      assert.match(line, /\[REDACTED\]/);
    }
    const first = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    assert.equal(first.clientSecret, "[REDACTED]");
    assert.equal(first.variables, "[REDACTED]");
    assert.deepEqual(first.headers, { authorization: "[REDACTED]", cookie: "[REDACTED]" });
  });

  test("redacts the router's shared-secret header and the perimeter's keys", () => {
    const { logger, lines } = capture();
    const routerSecret = "r0uterSecretNeverLogged000000000000000000=";
    logger.info({ "router-authorization": routerSecret }, "bare");
    logger.info({ request: { headers: { "router-authorization": routerSecret } } }, "nested");
    logger.info(
      {
        perimeter: { sharedSecret: { header: "router-authorization", secrets: [Buffer.from(routerSecret)] } },
      },
      "config",
    );
    logger.info({ config: { perimeter: { hmacSecrets: [Buffer.from(routerSecret)] } } }, "deeper");
    assert.equal(lines.length, 4);
    for (const line of lines) {
      assert.ok(!line.includes(routerSecret), line);
      assert.ok(!line.includes(Buffer.from(routerSecret).toJSON().data.join(",")), line);
      assert.match(line, /\[REDACTED\]/);
    }
  });

  test("keeps what is safe to log", () => {
    const { logger, lines } = capture();
    logger.info({ requestId: "r-1", outcome: "INVALID_CREDENTIALS", status: 200 }, "request");
    const line = JSON.parse(lines[0] ?? "{}") as Record<string, unknown>;
    assert.equal(line.requestId, "r-1");
    assert.equal(line.outcome, "INVALID_CREDENTIALS");
  });
});
