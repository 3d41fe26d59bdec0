/**
 * Reads an upstream's Retry-After header (RFC 9110 §10.2.3) into whole seconds, bounded, so that a
 * hostile or broken upstream can neither make callers wait for years nor say "retry now" by accident.
 */

// RFC 9110 §5.6.7: IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), obsolete RFC 850
// ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime ("Sun Nov  6 08:49:37 1994").
const IMF_OR_RFC850_DATE = /^[A-Z][a-z]{2,8}, \d{2}[ -][A-Z][a-z]{2}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [\d ]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/** Retry-After as whole seconds (delta-seconds or an HTTP date); undefined when absent or invalid. */
export function retryAfterSeconds(
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined) return undefined;
  if (/^\d+$/.test(value)) return Math.min(Number(value), 86_400);
  // Only the HTTP-date forms reach Date.parse, which alone reads "1.5" or "-5" as dates in 2001
  // ("retry now"); RFC 9110 §10.2.3 says an invalid value is ignored. asctime has no zone but is UTC.
  const date = IMF_OR_RFC850_DATE.test(value)
    ? Date.parse(value)
    : ASCTIME_DATE.test(value)
      ? Date.parse(`${value} GMT`)
      : Number.NaN;
  if (Number.isNaN(date)) return undefined;
  return Math.min(Math.max(0, Math.ceil((date - now) / 1000)), 86_400);
}
