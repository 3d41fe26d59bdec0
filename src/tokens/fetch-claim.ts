import { setTimeout as delay } from "node:timers/promises";
import type { Credential } from "./credential.js";
import type { StoredToken, TokenStore } from "./ports.js";

const FIRST_POLL_MS = 10;
const MAX_POLL_MS = 100;

export interface ClaimOptions {
  readonly store: TokenStore;
  readonly credential: Credential;
  /** The entry the caller saw and is replacing. */
  readonly seen: StoredToken | undefined;
  /** The longest a caller waits for another replica's fetch (the claim's lifetime). */
  readonly waitMs: number;
  /** Whether an entry another replica wrote meanwhile serves this caller. */
  readonly serves: (stored: StoredToken) => boolean;
  /** Called when the caller starts waiting for another replica's fetch. */
  readonly onWait?: () => void;
}

/** The fetch's result, or the entry another replica's fetch wrote for this caller. */
export type Claimed<T> =
  | { readonly kind: "fetched"; readonly value: T }
  | { readonly kind: "stored"; readonly stored: StoredToken };

/**
 * One fetch across replicas: claims the right to fetch through the store and runs `fetch` under it
 * (`granted` true), or, while another replica holds it, polls with back-off until that replica's entry
 * appears. A claim that outlives its lifetime without an entry is given up on: the caller fetches
 * anyway (`granted` false) rather than fail.
 */
export async function fetchUnderClaim<T>(
  options: ClaimOptions,
  fetch: (granted: boolean) => Promise<T>,
): Promise<Claimed<T>> {
  const { store, credential } = options;
  const deadline = performance.now() + options.waitMs;
  let pause = FIRST_POLL_MS;
  let waiting = false;
  let baseline = options.seen;
  while (performance.now() < deadline) {
    const claim = await store.claim(credential, baseline);
    if (claim.kind === "granted") {
      try {
        return { kind: "fetched", value: await fetch(true) };
      } finally {
        // After the entry is written (or the fetch failed, so waiters may try themselves).
        await claim.release();
      }
    }
    if (claim.kind === "stored") {
      // Written by another replica's fetch since this caller looked.
      if (options.serves(claim.stored)) return { kind: "stored", stored: claim.stored };
      baseline = claim.stored;
      continue;
    }
    if (!waiting) {
      waiting = true;
      options.onWait?.();
    }
    await delay(Math.min(pause, Math.max(0, deadline - performance.now())));
    pause = Math.min(pause * 2, MAX_POLL_MS);
  }
  return { kind: "fetched", value: await fetch(false) };
}
