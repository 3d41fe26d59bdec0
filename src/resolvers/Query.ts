import type { AsposeUpstreamState, QueryResolvers } from "../__generated__/resolvers-types.js";
import type { CircuitState } from "../tokens/types.js";
import { SERVICE_VERSION } from "../version.js";

const UPSTREAM_STATE = {
  closed: "CLOSED",
  "half-open": "HALF_OPEN",
  open: "OPEN",
} as const satisfies Record<CircuitState, AsposeUpstreamState>;

/** Root queries: the replica as its readiness probe sees it, which needs no credentials. */
export const Query: QueryResolvers = {
  asposeTokenService: (_parent, _args, context) => {
    const { ready, upstream } = context.replica();
    return { version: SERVICE_VERSION, ready, upstream: UPSTREAM_STATE[upstream] };
  },
};
