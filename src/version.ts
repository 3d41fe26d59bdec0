import { readFileSync } from "node:fs";

// Read once at start-up from package.json, so the User-Agent always names the running version.
function readVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8"));
      if (
        typeof parsed === "object" &&
        parsed !== null &&
        "name" in parsed &&
        parsed.name === "aspose-token-subgraph"
      ) {
        return "version" in parsed && typeof parsed.version === "string" ? parsed.version : "0.0.0";
      }
    } catch {
      // try the next candidate
    }
  }
  return "0.0.0";
}

/** This service's version, from package.json. */
export const SERVICE_VERSION = readVersion();
