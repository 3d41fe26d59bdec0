import { GraphQLError, type ValidationRule } from "graphql";

/**
 * Refuses introspection when INTROSPECTION is off (the default in production), with a message that
 * names the setting. Apollo's own rule points at code ("pass introspection: true to ApolloServer"),
 * which an operator of this service cannot act on. The refusal is a validation error, coded
 * GRAPHQL_VALIDATION_FAILED like Apollo's; `_service { sdl }`, which gateways read, is not
 * introspection and still answers.
 */
export const introspectionOffRule: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value !== "__schema" && node.name.value !== "__type") return;
    context.reportError(
      new GraphQLError(
        "Introspection is off on this service (INTROSPECTION=off, the default with NODE_ENV=production): set INTROSPECTION=on to allow it. Gateways read the schema through _service { sdl }, which stays on.",
        { nodes: [node], extensions: { validationErrorCode: "INTROSPECTION_DISABLED" } },
      ),
    );
  },
});
