/**
 * The layering of src/, checked by `npm run deps` (part of `npm run check` and CI). Layers point down:
 * edge (main, app; graphql over http) → resolvers → token service and limits (the domain, with its
 * ports) ← adapters (stores, the Aspose connector); config, errors and generated types at the bottom.
 * Generated resolver types may name the GraphQL Context type: that one upward edge is codegen's.
 */
const ADAPTERS = "^src/(stores|aspose)/";
const EDGE = "^src/(main|app)\\.ts$|^src/(graphql|http|resolvers)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import circle: two rooms that cannot be understood (or tested) apart.",
      from: { path: "^src/" },
      to: { circular: true },
    },
    {
      name: "composition-root-on-top",
      severity: "error",
      comment:
        "Only main.ts builds the app (app.ts, with upstream.ts and service.ts); nothing else may import the composition root.",
      from: { path: "^src/", pathNot: "^src/(main|app|service)\\.ts$" },
      to: { path: "^src/(app|main|upstream|service)\\.ts$" },
    },
    {
      name: "domain-depends-on-ports-only",
      severity: "error",
      comment: "The token service and limits know ports, never adapters, the edge or observability.",
      from: { path: "^src/(tokens|limits)/" },
      to: { path: [ADAPTERS, EDGE, "^src/observability/", "^src/config/"] },
    },
    {
      name: "adapters-below-the-edge",
      severity: "error",
      comment: "Stores and the connector implement ports; they never reach up into the edge.",
      from: { path: ADAPTERS },
      to: { path: EDGE },
    },
    {
      name: "adapters-apart",
      severity: "error",
      comment: "The stores and the Aspose connector do not know each other.",
      from: { path: "^src/stores/" },
      to: { path: "^src/aspose/" },
    },
    {
      name: "connector-apart",
      severity: "error",
      comment: "The Aspose connector does not know the stores.",
      from: { path: "^src/aspose/" },
      to: { path: "^src/stores/" },
    },
    {
      name: "http-knows-no-graphql",
      severity: "error",
      comment:
        "http/ is the transport (connections, routes, logs, draining); it is handed the GraphQL handler, never imports it.",
      from: { path: "^src/http/" },
      to: { path: "^src/(graphql|resolvers)/" },
    },
    {
      name: "edge-through-the-service",
      severity: "error",
      comment: "HTTP handlers and resolvers reach tokens through the context, never an adapter.",
      from: { path: "^src/(graphql|http|resolvers)/" },
      to: { path: ADAPTERS },
    },
    {
      name: "config-at-the-bottom",
      severity: "error",
      comment: "Config reads the environment into values; it imports nothing of the service.",
      from: { path: "^src/config/" },
      to: { path: "^src/", pathNot: "^src/config/" },
    },
    {
      name: "errors-at-the-bottom",
      severity: "error",
      comment: "The error catalogue depends on the generated code enum only.",
      from: { path: "^src/errors" },
      to: { path: "^src/", pathNot: ["^src/errors", "^src/__generated__/"] },
    },
    {
      name: "observability-below-the-edge",
      severity: "error",
      comment: "Logs and metrics are used by every layer; they never import the edge or the adapters.",
      from: { path: "^src/observability/" },
      to: { path: [EDGE, "^src/stores/", "^src/aspose/"] },
    },
    {
      name: "src-stands-alone",
      severity: "error",
      comment: "Production code never imports tests, dev tooling, benchmarks or gateway recipes.",
      from: { path: "^src/" },
      to: { path: "^(test|dev|bench|gateways)/" },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { exportsFields: ["exports"], conditionNames: ["import", "node", "default"] },
  },
};
