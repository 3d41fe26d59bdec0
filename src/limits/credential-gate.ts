import type { AttemptLimiter, AttemptReservation, Refusal, RefusalReason } from "./attempt-limiter.js";
import type { VerifierStore } from "./verifier-store.js";

/** What the gate needs of a credential handle: its keys, never its secret. */
export interface GatedCredential {
  /** Keys the credential's verifier (see VerifierStore). */
  readonly lookupKey: string;
  /** Keys the clientId's failure count. */
  readonly clientKey: string;
}

/** An upstream attempt let through; report exactly one outcome. */
export interface CredentialAttempt {
  /** Aspose accepted the credential; `validUntilMs` is when the token it issued expires. */
  accepted(validUntilMs: number): Promise<void>;
  /** Aspose said invalid_client. */
  rejected(): Promise<void>;
  /** The attempt proved nothing (upstream down, rate-limited). */
  inconclusive(): Promise<void>;
}

/** Either an attempt to report on, or why not and how long to wait. */
export type Admission =
  | { readonly allowed: true; readonly attempt: CredentialAttempt }
  | ({ readonly allowed: false } & Refusal);

export interface CredentialGateOptions {
  readonly limiter: AttemptLimiter;
  readonly verifiers: VerifierStore;
  /** Called for each refusal (metrics count them by reason). */
  readonly onRefusal?: (reason: RefusalReason) => void;
}

/**
 * The brute-force defence as the token service sees it: guessing stays bounded, owners
 * are never locked out. A credential Aspose accepted recently (a verifier) passes every lockout and
 * is not counted: it is not a guess. Any other credential is checked against the lockouts before the
 * store (so a locked clientId cannot probe stored tokens) and must reserve each upstream attempt.
 */
export class CredentialGate {
  readonly #limiter: AttemptLimiter;
  readonly #verifiers: VerifierStore;
  readonly #onRefusal: ((reason: RefusalReason) => void) | undefined;

  constructor(options: CredentialGateOptions) {
    this.#limiter = options.limiter;
    this.#verifiers = options.verifiers;
    this.#onRefusal = options.onRefusal;
  }

  /** Before the store: the refusal for a locked, unverified credential, or undefined to go on. */
  async check(credential: GatedCredential, addressKey: string): Promise<Refusal | undefined> {
    if (await this.#verifiers.has(credential.lookupKey)) return undefined;
    return this.#refused(await this.#limiter.lockedFor(credential.clientKey, addressKey));
  }

  /** Before an upstream call: a known-good credential is let through uncounted, any other reserves. */
  async admit(credential: GatedCredential, addressKey: string): Promise<Admission> {
    // Asked again, not carried from check(): another replica may have learnt either way meanwhile.
    if (await this.#verifiers.has(credential.lookupKey)) {
      return { allowed: true, attempt: this.#attempt(credential, undefined) };
    }
    const reserved = await this.#limiter.reserve(credential.clientKey, addressKey);
    if (!reserved.allowed) {
      this.#refused(reserved);
      return reserved;
    }
    return { allowed: true, attempt: this.#attempt(credential, reserved.reservation) };
  }

  #refused<T extends Refusal | undefined>(refusal: T): T {
    if (refusal !== undefined) this.#onRefusal?.(refusal.reason);
    return refusal;
  }

  #attempt(credential: GatedCredential, reservation: AttemptReservation | undefined): CredentialAttempt {
    const verifiers = this.#verifiers;
    return {
      async accepted(validUntilMs) {
        await Promise.all([reservation?.succeeded(), verifiers.remember(credential.lookupKey, validUntilMs)]);
      },
      async rejected() {
        // A known-good credential that Aspose now refuses (a rotated secret) loses its pass; its next
        // attempts are counted like anyone's. This one was not a guess, so it is not counted.
        if (reservation === undefined) await verifiers.forget(credential.lookupKey);
        else await reservation.failed();
      },
      async inconclusive() {
        await reservation?.released();
      },
    };
  }
}
