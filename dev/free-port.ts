/** The one way tests and benchmarks pick a loopback port for something they start themselves. */
import { createServer } from "node:net";

/** A port free right now on 127.0.0.1 (another binder may take it before the caller does: rare, accepted). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}
