/**
 * The text kinds of configuration variable: text in a format, lists, URLs and file paths (the
 * numbers and words are in parse.ts, which says how declarations are used).
 */
import {
  ConfigError,
  type Declaration,
  type Description,
  type Kind,
  mustBe,
  type Unset,
  unsetAs,
  withDefault,
  withoutDefault,
} from "./parse.js";

/** What a text value (or a list's entry) must look like, and the value it stands for. */
export interface Format<T> {
  /** Completes "must be …", e.g. "a host name or an IP address". */
  readonly means: string;
  /** The value, or undefined when the text is not one. */
  read(text: string): T | undefined;
}

/** A Format for text that matches `pattern`, read as itself. */
export function matching(pattern: RegExp, means: string): Format<string> {
  return { means, read: (text) => (pattern.test(text) ? text : undefined) };
}

/** A Format for any text, named for what it stands for: what is checked is the company it keeps. */
export function anyText(means: string): Format<string> {
  return { means, read: (value) => value };
}

function formatted<T>(format: Format<T>): Kind<T> {
  return {
    kind: "text",
    accepts: format.means,
    parse: (raw, name) => {
      const value = format.read(raw);
      if (value === undefined) throw mustBe(name, format.means);
      return value;
    },
  };
}

type TextSpec<T> = Description & { readonly format: Format<T> };

/** Text in a format; a default is spelled as text and read through the format too. */
export function text<T>(spec: TextSpec<T> & { readonly default: string }): Declaration<T>;
export function text<T>(spec: TextSpec<T> & Unset): Declaration<T | undefined>;
export function text<T>(
  spec: TextSpec<T> & ({ readonly default: string } | Unset),
): Declaration<T | undefined> {
  const kind = formatted(spec.format);
  return "default" in spec
    ? withDefault(kind, spec, kind.parse(spec.default, "a default"), spec.default)
    : withoutDefault(kind, spec);
}

/** A comma-separated list; blank entries are dropped. Unset, it is empty, which `spec.unset` explains. */
export function list<T>(spec: Description & Unset & { readonly item: Format<T> }): Declaration<T[]> {
  const accepts = `a comma-separated list of ${spec.item.means}`;
  const kind: Kind<T[]> = {
    kind: "list",
    accepts,
    parse: (raw, name) =>
      raw
        .split(",")
        .map((entry) => entry.trim())
        .filter((entry) => entry !== "")
        .map((entry) => {
          const value = spec.item.read(entry);
          if (value === undefined) throw mustBe(name, accepts);
          return value;
        }),
  };
  return unsetAs(kind, spec, []);
}

const HTTP_URL: Kind<string> = {
  kind: "url",
  accepts: "an absolute http(s) URL without credentials, query or fragment",
  parse: (raw, name) => {
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
  },
};

/** An absolute http(s) URL without credentials, query or fragment; trailing slashes dropped. */
export function httpUrl(spec: Description & { readonly default: string }): Declaration<string>;
export function httpUrl(spec: Description & Unset): Declaration<string | undefined>;
export function httpUrl(
  spec: Description & ({ readonly default: string } | Unset),
): Declaration<string | undefined> {
  return "default" in spec
    ? withDefault(HTTP_URL, spec, HTTP_URL.parse(spec.default, "a default"), spec.default)
    : withoutDefault(HTTP_URL, spec);
}

/** The path of a file, read by the module that declares it, which says what the file must hold. */
export function filePath(
  spec: Description & Unset & { readonly holds: string },
): Declaration<string | undefined> {
  const kind: Kind<string> = {
    kind: "file",
    accepts: `the path of a readable ${spec.holds}`,
    parse: (raw) => raw,
  };
  return withoutDefault(kind, spec);
}
