/**
 * The one parser every config section uses: each reader takes the environment and a variable's name,
 * returns a typed value or the default, and throws a ConfigError that names the variable. Messages
 * never echo a value: a variable may hold a password or a key.
 */

/** Thrown for an invalid environment; the message names the variable and never echoes its value. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

/** The environment as main.ts reads it (process.env), or as a test writes it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A variable's trimmed value; undefined when unset or blank. */
export function optionalText(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

/** A variable's trimmed value, or the default when unset or blank. */
export function text(env: Env, name: string, fallback: string): string {
  return optionalText(env, name) ?? fallback;
}

/** A whole number within [min, max]. */
export function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= min && value <= max))
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}`);
  return value;
}

/** A number in [0, 1). */
export function ratio(env: Env, name: string, fallback: number): number {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  const value = /^\d*\.?\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= 0 && value < 1)) throw new ConfigError(`${name} must be a number in [0, 1)`);
  return value;
}

/** on/off, true/false, yes/no, 1/0. */
export function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = optionalText(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (["1", "true", "on", "yes"].includes(raw)) return true;
  if (["0", "false", "off", "no"].includes(raw)) return false;
  throw new ConfigError(`${name} must be one of on/off, true/false, 1/0`);
}

/** One of a closed set of words. */
export function oneOf<T extends string>(env: Env, name: string, fallback: T, allowed: readonly T[]): T {
  const raw = optionalText(env, name);
  if (raw === undefined) return fallback;
  const found = allowed.find((candidate) => candidate === raw);
  if (found === undefined) throw new ConfigError(`${name} must be one of ${allowed.join(", ")}`);
  return found;
}

/** A comma-separated list; blank entries are dropped. */
export function list(env: Env, name: string): string[] {
  const raw = optionalText(env, name);
  if (raw === undefined) return [];
  return raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
}

/** An absolute http(s) URL without credentials, query or fragment; trailing slashes dropped. */
export function httpUrl(env: Env, name: string, fallback: string): string {
  const raw = text(env, name, fallback);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`${name} must be an absolute http(s) URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new ConfigError(`${name} must be an http(s) URL`);
  // Credentials in the base URL would end up in logs and error messages.
  if (url.username !== "" || url.password !== "")
    throw new ConfigError(`${name} must not contain credentials`);
  if (url.search !== "" || url.hash !== "")
    throw new ConfigError(`${name} must not contain a query or fragment`);
  return raw.replace(/\/+$/, "");
}

/** Refuses a variable that is no longer read, saying what replaced it, so a stale setting is never silently ignored. */
export function retired(env: Env, name: string, instead: string): void {
  if (optionalText(env, name) !== undefined)
    throw new ConfigError(`${name} is no longer a setting: ${instead}`);
}
