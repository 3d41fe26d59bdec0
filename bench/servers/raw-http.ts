/**
 * Scenario (a), the physical limit: plain node:http reading the request body and answering a constant
 * JSON body of the size of a real cache hit. Nothing else runs per request.
 */
import { createServer } from "node:http";

const body = Buffer.from(process.env.BENCH_BODY ?? "{}");
const headers = {
  "content-type": "application/json; charset=utf-8",
  "content-length": String(body.length),
};

const server = createServer((request, response) => {
  request.resume();
  request.on("end", () => {
    response.writeHead(200, headers);
    response.end(body);
  });
});

server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? "127.0.0.1");
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
