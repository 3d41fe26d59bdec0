/**
 * The shared limiter's three script calls in the limiter's own terms: arguments laid out as each
 * script in limiter-scripts.ts reads them, replies checked and named. A reply of any other shape is
 * undefined, treated like no answer (this replica's own counts decide).
 */
import type { LockoutPolicy, LockoutSubject } from "../../limits/attempt-limiter.js";
import type { Outcome } from "../memory/memory-attempt-limiter.js";
import type { Send } from "./bounded-command.js";
import { type LimiterKeys, LOCKED_FOR, RESERVE, SETTLE, subjectNames } from "./limiter-scripts.js";

/** One attempt's subjects and the moment it is decided at (the service's clock). */
export interface AttemptCall {
  readonly keys: LimiterKeys;
  readonly policy: LockoutPolicy;
  readonly now: number;
  readonly clientKey: string;
  readonly addressKey: string;
}

/**
 * Redis's answer to a reservation: made, refused for a lockout (ms left of each), or for a full budget
 * (a subject's, or the guess budget all unverified attempts share).
 */
export type SharedReservation =
  | { readonly kind: "reserved" }
  | { readonly kind: "locked"; readonly clientMs: number; readonly addressMs: number }
  | { readonly kind: "busy"; readonly subject: LockoutSubject | "global" };

/** The ms left of each subject's shared lockout (0: none). */
export async function lockedForIn(send: Send, call: AttemptCall): Promise<[number, number] | undefined> {
  const reply = numbers(
    await LOCKED_FOR.run(
      send,
      [call.keys.subjects],
      [call.now, ...subjectNames(call.clientKey, call.addressKey)],
    ),
  );
  const [clientMs, addressMs] = reply ?? [];
  return clientMs === undefined || addressMs === undefined ? undefined : [clientMs, addressMs];
}

/** Reserves attempt `id` for both subjects unless a lockout or a full budget refuses it. */
export async function reserveIn(
  send: Send,
  call: AttemptCall & { readonly id: string; readonly ttlMs: number },
): Promise<SharedReservation | undefined> {
  const reply = numbers(
    await RESERVE.run(send, allKeys(call.keys), [
      ...policyArgs(call),
      call.id,
      call.ttlMs,
      ...subjectNames(call.clientKey, call.addressKey),
      call.policy.guessesPerSecond,
    ]),
  );
  if (reply === undefined) return undefined;
  const [allowed, clientMs = 0, addressMs = 0, busy] = reply;
  if (allowed === 1) return { kind: "reserved" };
  if (clientMs > 0 || addressMs > 0) return { kind: "locked", clientMs, addressMs };
  return { kind: "busy", subject: busy === 3 ? "global" : busy === 2 ? "address" : "client" };
}

/** Settles attempt `id` with its outcome; the subjects this failure locked out. */
export async function settleIn(
  send: Send,
  call: AttemptCall & { readonly id: string; readonly outcome: Outcome; readonly maxSubjects: number },
): Promise<LockoutSubject[] | undefined> {
  const { policy } = call;
  const reply = numbers(
    await SETTLE.run(send, allKeys(call.keys), [
      ...policyArgs(call),
      policy.baseSeconds * 1000,
      policy.maxSeconds * 1000,
      call.id,
      call.outcome,
      ...subjectNames(call.clientKey, call.addressKey),
      call.maxSubjects,
      policy.guessesPerSecond,
    ]),
  );
  if (reply === undefined) return undefined;
  const locked: LockoutSubject[] = [];
  if (reply[0] === 1) locked.push("client");
  if (reply[1] === 1) locked.push("address");
  return locked;
}

// RESERVE's and SETTLE's keys, and the first arguments both take: now, window ms, both thresholds.
function allKeys(keys: LimiterKeys): string[] {
  return [keys.subjects, keys.expiry, keys.pending, keys.inflight, keys.guesses];
}

function policyArgs({ now, policy }: AttemptCall): number[] {
  return [now, policy.windowSeconds * 1000, policy.threshold, policy.addressThreshold];
}

function numbers(reply: unknown): number[] | undefined {
  if (!Array.isArray(reply)) return undefined;
  const values = reply as unknown[];
  return values.every((value) => typeof value === "number") ? (values as number[]) : undefined;
}
