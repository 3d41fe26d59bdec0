/**
 * The kinds of configuration variable, each with the one parser behind it (text kinds in formats.ts).
 * A config module declares every variable it reads once, with one of these kinds: what values it
 * accepts, its default, one paragraph for operators. The module reads the variable through that
 * declaration, and the reference (docs/configuration.md) and `.env.example` are generated from the same
 * declarations (`npm run config:docs`), so code and documentation cannot drift. A refused value stops
 * start-up with a ConfigError that names the variable and never echoes the value: a variable may hold
 * a password or a key.
 */

/** Thrown for an invalid environment; the message names the variable and never echoes its value. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The environment as main.ts reads it (process.env), or as a test writes it. */
export type Env = Readonly<Record<string, string | undefined>>;

export type VariableKind =
  | "integer"
  | "ratio"
  | "flag"
  | "one-of"
  | "list"
  | "url"
  | "text"
  | "file"
  | "retired";

/** What a declaration tells operators, whatever its kind. */
export interface Description {
  /** One sentence: what the variable does. It heads the paragraph and is the `.env.example` comment. */
  readonly does: string;
  /** The rest of the paragraph: when to change it, what it costs, the rules it shares with others. */
  readonly details?: string;
  /** Holds a password or a key: it has no default and no example, and is never echoed. */
  readonly secret?: boolean;
  /** A value that shows the shape, where the default does not. */
  readonly example?: string;
}

/** With no default value: what leaving the variable unset means. */
export interface Unset {
  readonly unset: string;
}

/** A variable's declaration before it is given its name (see `section`). */
export interface Declaration<T> extends Description {
  readonly kind: VariableKind;
  /** What a value must be; a refusal reads `<NAME> must be <accepts>`. */
  readonly accepts: string;
  /** The default as an env file spells it; undefined when unset means something else (`unset`). */
  readonly defaultValue: string | undefined;
  readonly unset: string | undefined;
  /** The value when the variable is unset or blank. */
  readonly fallback: T;
  /** Parses a set, trimmed, non-blank value; throws a ConfigError naming `name`. */
  parse(raw: string, name: string): T;
}

/** How a kind reads a value: what it accepts, and the parser that refuses anything else. */
export interface Kind<T> {
  readonly kind: VariableKind;
  readonly accepts: string;
  parse(raw: string, name: string): T;
}

/** Refuses a value for not being what the declaration accepts. */
export function mustBe(name: string, accepts: string): ConfigError {
  return new ConfigError(`${name} must be ${accepts}`);
}

function described(spec: Description): Description & { readonly secret: boolean } {
  if (spec.secret === true && spec.example !== undefined)
    throw new Error(`a secret has no example: ${spec.does}`);
  return { does: spec.does, details: spec.details, secret: spec.secret === true, example: spec.example };
}

/** A declaration whose default is `value`, spelled `spelled` in an env file. */
export function withDefault<T>(kind: Kind<T>, spec: Description, value: T, spelled: string): Declaration<T> {
  if (spec.secret === true) throw new Error(`a secret has no default: ${spec.does}`);
  return { ...kind, ...described(spec), defaultValue: spelled, unset: undefined, fallback: value };
}

/** A declaration without a default value: unset, it reads as undefined, which `spec.unset` explains. */
export function withoutDefault<T>(kind: Kind<T>, spec: Description & Unset): Declaration<T | undefined> {
  return unsetAs(kind, spec, undefined);
}

/** A declaration without a default value that reads as `fallback` when unset (an empty list, say). */
export function unsetAs<T, F>(kind: Kind<T>, spec: Description & Unset, fallback: F): Declaration<T | F> {
  return { ...kind, ...described(spec), defaultValue: undefined, unset: spec.unset, fallback };
}

type Bounds = Description & { readonly min: number; readonly max: number };

/** A whole number within [min, max]. */
export function integer(spec: Bounds & { readonly default: number }): Declaration<number>;
export function integer(spec: Bounds & Unset): Declaration<number | undefined>;
export function integer(
  spec: Bounds & ({ readonly default: number } | Unset),
): Declaration<number | undefined> {
  const accepts = `a whole number from ${spec.min} to ${spec.max}`;
  const kind: Kind<number> = {
    kind: "integer",
    accepts,
    parse: (raw, name) => {
      const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(value >= spec.min && value <= spec.max)) throw mustBe(name, accepts);
      return value;
    },
  };
  return "default" in spec
    ? withDefault(kind, spec, spec.default, String(spec.default))
    : withoutDefault(kind, spec);
}

/** A number in [0, 1), or [0, 1] with `includingOne`. */
export function ratio(
  spec: Description & { readonly default: number; readonly includingOne?: boolean },
): Declaration<number> {
  const accepts = `a number in [0, 1${spec.includingOne === true ? "]" : ")"}`;
  const kind: Kind<number> = {
    kind: "ratio",
    accepts,
    parse: (raw, name) => {
      const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : Number.NaN;
      if (!(value >= 0 && (spec.includingOne === true ? value <= 1 : value < 1))) throw mustBe(name, accepts);
      return value;
    },
  };
  return withDefault(kind, spec, spec.default, String(spec.default));
}

const FLAG: Kind<boolean> = {
  kind: "flag",
  accepts: "one of on/off, true/false, 1/0",
  parse: (raw, name) => {
    const word = raw.toLowerCase();
    if (["1", "true", "on", "yes"].includes(word)) return true;
    if (["0", "false", "off", "no"].includes(word)) return false;
    throw mustBe(name, FLAG.accepts);
  },
};

/** on/off, true/false, yes/no, 1/0. */
export function flag(spec: Description & { readonly default: boolean }): Declaration<boolean>;
export function flag(spec: Description & Unset): Declaration<boolean | undefined>;
export function flag(
  spec: Description & ({ readonly default: boolean } | Unset),
): Declaration<boolean | undefined> {
  return "default" in spec
    ? withDefault(FLAG, spec, spec.default, spec.default ? "on" : "off")
    : withoutDefault(FLAG, spec);
}

type Words<T extends string> = Description & {
  readonly allowed: readonly T[];
  /** Matches the words whatever their case (OpenTelemetry's enum values are case-insensitive). */
  readonly ignoreCase?: boolean;
};

/** One of a closed set of words. */
export function oneOf<const T extends string>(
  spec: Words<T> & { readonly default: NoInfer<T> },
): Declaration<T>;
export function oneOf<const T extends string>(spec: Words<T> & Unset): Declaration<T | undefined>;
export function oneOf<const T extends string>(
  spec: Words<T> & ({ readonly default: NoInfer<T> } | Unset),
): Declaration<T | undefined> {
  const accepts = `one of ${spec.allowed.join(", ")}`;
  const kind: Kind<T> = {
    kind: "one-of",
    accepts,
    parse: (raw, name) => {
      const word = spec.ignoreCase === true ? raw.toLowerCase() : raw;
      const found = spec.allowed.find((candidate) => candidate === word);
      if (found === undefined) throw mustBe(name, accepts);
      return found;
    },
  };
  return "default" in spec ? withDefault(kind, spec, spec.default, spec.default) : withoutDefault(kind, spec);
}

/**
 * A variable that is no longer read, refused when set with what replaced it, so a stale setting is
 * never silently ignored.
 */
export function retired(spec: { readonly instead: string }): Declaration<undefined> {
  const kind: Kind<undefined> = {
    kind: "retired",
    accepts: "unset",
    parse: (_raw, name) => {
      throw new ConfigError(`${name} is no longer a setting: ${spec.instead}`);
    },
  };
  const does = `No longer a setting, refused at start-up: ${spec.instead}.`;
  return withoutDefault(kind, { does, unset: "" });
}
