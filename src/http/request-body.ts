import type { IncomingMessage } from "node:http";

/** Why a body could not be read; each maps to one HTTP status. */
export type BodyProblem = "too-large" | "invalid-utf8" | "aborted";

const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Reads a request body as UTF-8 text, refusing it as soon as it passes `limit` bytes: a flood of
 * megabytes is never buffered. Invalid UTF-8 is refused rather than silently replaced, because a
 * replaced byte inside a secret would send a different secret upstream.
 */
export function readBody(request: IncomingMessage, limit: number): Promise<string | BodyProblem> {
  const declared = Number(request.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve("too-large");
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (result: string | BodyProblem): void => {
      if (done) return;
      done = true;
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.off("aborted", onError);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        finish("too-large");
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      try {
        finish(
          decoder.decode(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks)),
        );
      } catch {
        finish("invalid-utf8");
      }
    };
    const onError = (): void => finish("aborted");
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    request.on("aborted", onError);
  });
}
