/**
 * Why the perimeter refused a request: the `reason` label of `perimeter_refusals_total`. A closed set;
 * it names the proof that was missing or wrong, never what was presented.
 */
export const REFUSAL_REASONS = [
  "secret_missing",
  "secret_wrong",
  "signature_missing",
  "signature_wrong",
  "certificate_missing",
  "certificate_untrusted",
  "document_not_listed",
] as const;

export type RefusalReason = (typeof REFUSAL_REASONS)[number];
