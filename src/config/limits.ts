import { ConfigError, type Env, flag, integer, retired } from "./parse.js";
import { section } from "./section.js";

/**
 * Limits nobody has needed to tune, kept as named constants (the configuration reference lists them): a
 * token exchange is one shallow field, so no legitimate operation comes near them.
 */
export const MAX_DEPTH = 10;
export const MAX_DIRECTIVES = 10;

/** Brute-force lockout per clientId (and, at 4× the threshold, per address), and the guess budget all share. */
export interface LockoutConfig {
  readonly threshold: number;
  readonly windowSeconds: number;
  readonly baseSeconds: number;
  readonly maxSeconds: number;
  /** Unverified upstream attempts in flight plus failures within the last second, per replica and shared. */
  readonly guessesPerSecond: number;
}

/** What one request may ask for, and how failed credential attempts are limited. */
export interface LimitsConfig {
  readonly bodyLimitBytes: number;
  readonly maxTokenFieldsPerOperation: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly requireSecretVariables: boolean;
  readonly lockout: LockoutConfig;
  /** How long a credential Aspose accepted passes the lockouts (known-good), since its last acceptance. */
  readonly verifierTtlSeconds: number;
  /** A forced refresh this soon after the last upstream fetch for its credential returns that token. */
  readonly forceRefreshMinIntervalSeconds: number;
}

/** The variables of the request limits and the brute-force lockout. */
export const LIMITS = section(
  "Abuse limits",
  `What one request may ask for, and how failed credential attempts are limited. Every refusal here is a coded answer before any call to Aspose. Not settings: an operation's depth is limited to ${MAX_DEPTH} and its directives to ${MAX_DIRECTIVES} (\`MAX_DEPTH\`, \`MAX_DIRECTIVES\` in src/config/limits.ts). Why each limit exists, and what the lockout does and does not stop, is in [security](security.md).`,
  {
    REQUEST_BODY_LIMIT_BYTES: integer({
      min: 1024,
      max: 10_485_760,
      default: 65_536,
      does: "The largest request body read; a larger one is answered HTTP 413 (with `Connection: close`) while it is being read.",
    }),
    MAX_TOKEN_FIELDS_PER_OPERATION: integer({
      min: 1,
      max: 100,
      default: 3,
      does: "How many `accessToken` fields one operation may ask for (aliases and fragments count); more are refused with `BAD_USER_INPUT`.",
      details:
        "Behind Hive Gateway, keep the gateway plugin's limit equal to this ([federation](federation.md)).",
    }),
    GRAPHQL_MAX_ALIASES: integer({
      min: 1,
      max: 1000,
      default: 10,
      does: "How many aliases one operation may use; more are refused with `BAD_USER_INPUT`.",
    }),
    GRAPHQL_MAX_TOKENS: integer({
      min: 50,
      max: 100_000,
      default: 1000,
      does: "How many lexical tokens one document may have; more are refused while parsing, with `GRAPHQL_PARSE_FAILED`.",
    }),
    GRAPHQL_MAX_DEPTH: retired({ instead: `the depth limit is fixed at ${MAX_DEPTH}` }),
    GRAPHQL_MAX_DIRECTIVES: retired({ instead: `the directive limit is fixed at ${MAX_DIRECTIVES}` }),
    REQUIRE_SECRET_VARIABLES: flag({
      default: true,
      does: "Refuses, with `BAD_USER_INPUT`, an operation that writes `clientSecret` (or a reported `rejectedToken`) as a literal in its text, or as a literal variable default.",
      details: "Literals end up in query logs, caches, traces and operation registries; variables do not.",
    }),
    LOCKOUT_THRESHOLD: integer({
      min: 1,
      max: 1000,
      default: 5,
      does: "Failed attempts for one clientId within `LOCKOUT_WINDOW_SECONDS` before it is locked out with `TOO_MANY_ATTEMPTS`; a client address is locked at 4× this.",
      details:
        "Attempts still in flight count from the first request, so a concurrent burst cannot slip past. Credentials Aspose has accepted are never locked out (`VERIFIER_TTL_SECONDS`). With a shared store the counts add up across replicas; without one a guesser gets the threshold once per replica.",
    }),
    LOCKOUT_WINDOW_SECONDS: integer({
      min: 1,
      max: 86_400,
      default: 900,
      does: "How long a failed attempt counts; older failures are forgotten.",
    }),
    LOCKOUT_BASE_SECONDS: integer({
      min: 1,
      max: 86_400,
      default: 30,
      does: "The first lockout's length; each further lockout within the window doubles, up to `LOCKOUT_MAX_SECONDS`.",
    }),
    LOCKOUT_MAX_SECONDS: integer({
      min: 1,
      max: 86_400,
      default: 900,
      does: "The longest lockout.",
      details: "At least `LOCKOUT_BASE_SECONDS`.",
    }),
    UPSTREAM_GUESS_BUDGET_PER_SECOND: integer({
      min: 1,
      max: 1000,
      default: 5,
      does: "How many token requests with unverified credentials may be in flight to Aspose, plus those that failed (or proved nothing: a timeout, a 429) within the last second, whatever their clientIds and addresses; past it an unverified attempt is refused with `TOO_MANY_ATTEMPTS` and `retryAfter: 1` without calling Aspose.",
      details:
        "Bounds the failing token requests Aspose sees from the service's address to this many per second, however many addresses and clientIds a guesser rotates. Credentials Aspose has accepted (`VERIFIER_TTL_SECONDS`) are never counted nor refused; an accepted attempt gives its place back at once. With a shared store one budget covers all replicas (while the store cannot answer each replica keeps its own, so the total is replicas × this); without one, each replica has its own. How it is sized: [security](security.md#the-guess-budget).",
    }),
    VERIFIER_TTL_SECONDS: integer({
      // At least a minute: shorter would let an attacker lock owners out between their requests. At
      // most 30 days: how long a secret revoked at Aspose may still pass the lockouts for its cached
      // token (its first upstream attempt is rejected and drops the verifier).
      min: 60,
      max: 2_592_000,
      default: 86_400,
      does: "How long a credential Aspose accepted passes every lockout, counted from its last acceptance, or while the token it proved lives if that is longer.",
      details:
        "Aspose rejecting the credential (a rotated secret) ends it at once. At least a minute, so that an attacker cannot lock owners out between their requests; at most 30 days, how long a secret revoked at Aspose may still pass the lockouts for its cached token.",
    }),
    FORCE_REFRESH_MIN_INTERVAL_SECONDS: integer({
      // More than an hour would make forceRefresh meaningless.
      min: 0,
      max: 3600,
      default: 10,
      does: "A `forceRefresh` this soon after the last upstream fetch for its credentials returns that token instead of fetching again; `0` turns the bound off.",
      details:
        "A loop of forced refreshes, or several aliases, then cannot pump upstream calls. With `TOKEN_CACHE=off` nothing is stored, so every request goes upstream anyway.",
    }),
  },
);

const v = LIMITS.variables;

/** The limits section from the environment. */
export function limitsConfig(env: Env): LimitsConfig {
  v.GRAPHQL_MAX_DEPTH.read(env);
  v.GRAPHQL_MAX_DIRECTIVES.read(env);
  const lockout: LockoutConfig = {
    threshold: v.LOCKOUT_THRESHOLD.read(env),
    windowSeconds: v.LOCKOUT_WINDOW_SECONDS.read(env),
    baseSeconds: v.LOCKOUT_BASE_SECONDS.read(env),
    maxSeconds: v.LOCKOUT_MAX_SECONDS.read(env),
    guessesPerSecond: v.UPSTREAM_GUESS_BUDGET_PER_SECOND.read(env),
  };
  if (lockout.maxSeconds < lockout.baseSeconds) {
    throw new ConfigError("LOCKOUT_MAX_SECONDS must be at least LOCKOUT_BASE_SECONDS");
  }
  return {
    bodyLimitBytes: v.REQUEST_BODY_LIMIT_BYTES.read(env),
    maxTokenFieldsPerOperation: v.MAX_TOKEN_FIELDS_PER_OPERATION.read(env),
    maxAliases: v.GRAPHQL_MAX_ALIASES.read(env),
    maxTokens: v.GRAPHQL_MAX_TOKENS.read(env),
    requireSecretVariables: v.REQUIRE_SECRET_VARIABLES.read(env),
    lockout,
    verifierTtlSeconds: v.VERIFIER_TTL_SECONDS.read(env),
    forceRefreshMinIntervalSeconds: v.FORCE_REFRESH_MIN_INTERVAL_SECONDS.read(env),
  };
}
