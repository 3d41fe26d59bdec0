import type { IncomingMessage } from "node:http";
import { HttpCode, OutcomeLabel, RequestCode } from "../errors.js";
import type { Arrival, BodyIntake } from "./body-intake.js";
import { closing, jsonError, type Reply } from "./exchange.js";

/** Why a body could not be read; each maps to one coded answer (`bodyRefusal`). */
export type BodyProblem = "too-large" | "invalid-utf8" | "aborted" | "too-slow" | "busy";

/** A body read whole, as text, or why it could not be. */
export type BodyRead =
  | { readonly text: string; readonly problem?: undefined }
  | { readonly problem: BodyProblem };

const decoder = new TextDecoder("utf-8", { fatal: true });

const EMPTY = new Uint8Array(0);

/** A body that does not declare its length reserves room in steps of at least this. */
const FIRST_STEP_BYTES = 1024;

/**
 * Reads a request body as UTF-8 text, refusing it as soon as it passes `limit` bytes: a flood of
 * megabytes is never buffered. Invalid UTF-8 is refused rather than silently replaced, because a
 * replaced byte inside a secret would send a different secret upstream.
 *
 * The body is counted against `intake`'s budget at its declared length before any of it is read (a
 * chunked body as it grows), and copied into one buffer of that size: a body sent a byte at a time
 * holds its bytes, not a Buffer object per byte. It is cut if it arrives slower than the intake's
 * minimum rate.
 */
export function readBody(request: IncomingMessage, limit: number, intake: BodyIntake): Promise<BodyRead> {
  const declared = Number(request.headers["content-length"]);
  const known = Number.isFinite(declared);
  if (known && declared > limit) return Promise.resolve({ problem: "too-large" });
  return new Promise((resolve) => {
    let done = false;
    // The bytes so far, [0, size): the first chunk as it came, then a buffer of `room` bytes.
    let buffer: Buffer | undefined;
    let owned = false;
    let size = 0;
    // What this body holds of the budget: its declared length, or for a chunked body room that
    // doubles as it grows, up to the limit.
    let room = known ? declared : 0;
    const finish = (result: BodyRead): void => {
      if (done) return;
      done = true;
      arrival?.finish();
      request.off("data", onData);
      request.off("end", onEnd);
      request.off("error", onError);
      request.off("aborted", onError);
      resolve(result);
    };
    const arrival: Arrival | undefined = intake.admit(room, () => finish({ problem: "too-slow" }));
    if (arrival === undefined) {
      resolve({ problem: "busy" });
      return;
    }
    const onData = (chunk: Buffer): void => {
      const end = size + chunk.length;
      if (end > limit) {
        finish({ problem: "too-large" });
        return;
      }
      arrival.received = end;
      if (end > room) {
        const grown = Math.min(limit, Math.max(end, FIRST_STEP_BYTES, room * 2));
        if (!arrival.grow(grown - room)) {
          finish({ problem: "busy" });
          return;
        }
        room = grown;
      }
      // The usual token request is one chunk, kept as it came.
      if (buffer === undefined) buffer = chunk;
      else {
        if (!owned || buffer.length < end) {
          const grown = Buffer.allocUnsafe(room);
          buffer.copy(grown, 0, 0, size);
          buffer = grown;
          owned = true;
        }
        chunk.copy(buffer, size);
      }
      size = end;
    };
    const onEnd = (): void => {
      try {
        finish({ text: decoder.decode(buffer === undefined ? EMPTY : buffer.subarray(0, size)) });
      } catch {
        finish({ problem: "invalid-utf8" });
      }
    };
    const onError = (): void => finish({ problem: "aborted" });
    request.on("data", onData);
    request.on("end", onEnd);
    request.on("error", onError);
    request.on("aborted", onError);
  });
}

const RETRY_AFTER_SECONDS = "1";

/** The coded answer to a body that could not be read; each closes the connection but `invalid-utf8`. */
export function bodyRefusal(problem: BodyProblem, limit: number): Reply {
  switch (problem) {
    case "too-large":
      return closing(jsonError(413, RequestCode.BAD_REQUEST, `Request body is larger than ${limit} bytes.`));
    case "invalid-utf8":
      return jsonError(400, RequestCode.BAD_REQUEST, "Request body is not valid UTF-8.");
    case "aborted":
      return { status: 400, headers: {}, body: "", outcome: OutcomeLabel.ABORTED };
    case "too-slow":
      return closing(
        jsonError(408, HttpCode.REQUEST_TIMEOUT, "Request body arrived too slowly. Send the request again."),
      );
    case "busy":
      return closing(
        jsonError(
          503,
          HttpCode.SERVER_BUSY,
          "The service is receiving as many request bodies as it can hold. Retry shortly.",
        ),
        { "retry-after": RETRY_AFTER_SECONDS },
      );
  }
}
