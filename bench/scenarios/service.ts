/** The real service as a server under test: the compiled main.js with every production feature on. */
import { join } from "node:path";
import type { ServerSpec } from "../lib/child-server.js";
import { LOCKOUT_THRESHOLD, MAX_TOKEN_FIELDS, ROOT, TOKEN_PATH } from "../settings.js";

const MAIN = join(ROOT, "dist/src/main.js");

/** The spec of a service server against `upstream`, with `env` on top of the production defaults. */
export function serviceSpec(
  name: string,
  core: number | undefined,
  upstream: string,
  env: Record<string, string> = {},
  nodeFlags: readonly string[] = [],
): ServerSpec {
  return {
    name,
    script: MAIN,
    core,
    readyPath: "/readyz",
    nodeFlags,
    env: {
      // Every production feature on: production mode, limits at their defaults, info logs through
      // main.ts's asynchronous destination, default and service metrics.
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      ASPOSE_BASE_URL: upstream,
      ASPOSE_TOKEN_PATH: TOKEN_PATH,
      MAX_TOKEN_FIELDS_PER_OPERATION: String(MAX_TOKEN_FIELDS),
      LOCKOUT_THRESHOLD: String(LOCKOUT_THRESHOLD),
      ...env,
    },
  };
}
