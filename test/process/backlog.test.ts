/**
 * Issue 12 point 4, the listen backlog: a freshly started replica met by a burst must not turn
 * connections away. The process is stopped (SIGSTOP) so it accepts nothing, and a burst of
 * connections is opened: each completes its handshake only if the kernel's accept queue, sized by
 * the listen backlog, holds it. With Node's default backlog of 511 the rest wait on SYN retries (or
 * are reset); with LISTEN_BACKLOG's default of 4096 every one is queued and served once it resumes.
 */
import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { test } from "node:test";
import { startService } from "../support/process.js";

const BURST = 1500;

test(`a stopped service's accept queue holds a burst of ${BURST} connections`, {
  timeout: 60_000,
}, async (t) => {
  const service = await startService({ NODE_ENV: "production", LOG_LEVEL: "info" });
  t.after(() => service.kill());
  const sockets: Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });

  service.child.kill("SIGSTOP");
  const results = await Promise.all(
    Array.from(
      { length: BURST },
      () =>
        new Promise<string>((resolve) => {
          const socket = connect(service.port, "127.0.0.1");
          sockets.push(socket);
          socket.once("connect", () => resolve("connected"));
          socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
          // A SYN the full queue dropped is retried after 1 s, 3 s, 7 s...: 2.5 s is longer than a
          // queued handshake on loopback takes, and shorter than the first retry lands.
          socket.setTimeout(2500, () => resolve("timed out"));
        }),
    ),
  );
  service.child.kill("SIGCONT");
  const counts: Record<string, number> = {};
  for (const result of results) counts[result] = (counts[result] ?? 0) + 1;
  assert.deepEqual(counts, { connected: BURST });

  // Resumed, the service serves a queued connection.
  const first = sockets[0];
  assert.ok(first !== undefined);
  const answer = await new Promise<string>((resolve) => {
    let received = "";
    first.setEncoding("utf8");
    first.on("data", (chunk: string) => {
      received += chunk;
      if (received.includes("\r\n\r\n")) resolve(received);
    });
    first.write("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  });
  assert.match(answer, /^HTTP\/1\.1 200 /);
});
