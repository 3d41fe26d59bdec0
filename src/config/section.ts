import { ConfigError, type Declaration, type Env } from "./parse.js";

/** A declared variable: its declaration, its name, and the one way the config modules read it. */
export interface Variable<T> extends Declaration<T> {
  readonly name: string;
  /** The parsed value, or the fallback when unset or blank. */
  read(env: Env): T;
  /** True when set to something other than blanks. */
  isSet(env: Env): boolean;
}

/** One room's variables, named by their keys, with the heading and summary the reference gives them. */
export interface ConfigSection<V extends Readonly<Record<string, Variable<unknown>>>> {
  readonly title: string;
  /** One paragraph: what the section configures, and what it does not cover. */
  readonly summary: string;
  readonly variables: V;
}

type Named<D> = { readonly [K in keyof D]: D[K] extends Declaration<infer T> ? Variable<T> : never };

/** Names each declaration after its key: the key is the environment variable. */
export function section<const D extends Readonly<Record<string, Declaration<unknown>>>>(
  title: string,
  summary: string,
  declarations: D,
): ConfigSection<Named<D>> {
  const variables = Object.fromEntries(
    Object.entries(declarations).map(([name, declaration]) => [name, named(name, declaration)]),
  );
  // Object.fromEntries loses the keys' types; they are exactly D's keys.
  return Object.freeze({ title, summary, variables: Object.freeze(variables) as Named<D> });
}

/** True for a value that is unset, empty or only whitespace: every declaration reads it as unset. */
export function isBlank(value: string | undefined): boolean {
  return value === undefined || value.trim() === "";
}

/**
 * Deletes the blank variables from a process's environment, so that the libraries that read it
 * themselves agree with the Config that a blank is unset: Apollo Server reads APOLLO_KEY on its own
 * and warns of "unexpected leading or trailing whitespace" for an empty one; the OTLP exporter reads
 * OTEL_EXPORTER_OTLP_HEADERS.
 */
export function unsetBlankVariables(env: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(env)) if (isBlank(value)) delete env[name];
}

function named<T>(name: string, declaration: Declaration<T>): Variable<T> {
  const raw = (env: Env): string | undefined => (isBlank(env[name]) ? undefined : env[name]?.trim());
  return Object.freeze({
    ...declaration,
    name,
    read: (env: Env): T => {
      const value = raw(env);
      return value === undefined ? declaration.fallback : declaration.parse(value, name);
    },
    isSet: (env: Env): boolean => raw(env) !== undefined,
  });
}

/** Refuses a variable's value for not being what it accepts (for checks past its kind's own). */
export function refuse(variable: Variable<unknown>): ConfigError {
  return new ConfigError(`${variable.name} must be ${variable.accepts}`);
}
