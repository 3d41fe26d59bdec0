/**
 * The subgraph's two operation rules, enforced where Hive Gateway can see the client's operation.
 * Behind Hive Gateway the subgraph cannot enforce them itself: the gateway rewrites an inline literal
 * into a variable before delegating (so an inline `clientSecret` arrives as `$_v0_clientSecret`), and it
 * sends each aliased `accessToken` field as its own subgraph request (so no single request exceeds the
 * per-operation limit). Self-contained (graphql-js only) so it can be copied next to gateway.config.ts.
 */
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";

const TOKEN_FIELD = "accessToken";

function refused(message: string): GraphQLError {
  // The subgraph's own code for an operation it refuses before anything reaches Aspose.
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

/** clientSecret must be a variable: a literal ends up in logs, caches and traces (the gateway's too). */
export function secretAsVariableRule(context: ValidationContext): ASTVisitor {
  return {
    Field(field) {
      if (field.name.value !== TOKEN_FIELD || context.getParentType()?.name !== "Mutation") return;
      const secret = field.arguments?.find((argument) => argument.name.value === "clientSecret");
      if (secret === undefined || secret.value.kind === Kind.VARIABLE) return;
      context.reportError(
        refused("clientSecret must be passed as a GraphQL variable, not written in the operation text."),
      );
    },
    VariableDefinition(definition) {
      // A default value is operation text too.
      if (definition.defaultValue !== undefined && definition.variable.name.value === "clientSecret")
        context.reportError(refused("clientSecret must not have a default value in the operation text."));
    },
  };
}

/** At most `max` accessToken fields per operation, aliases and fragments counted (the subgraph's default: 3). */
export function maxTokenFieldsRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    OperationDefinition(operation) {
      if (operation.operation !== "mutation") return;
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions)
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      const count = countTokenFields(operation.selectionSet, fragments, new Map());
      if (count > max)
        context.reportError(refused(`An operation may request accessToken at most ${max} time(s).`));
    },
  });
}

// Each fragment is counted once and remembered: a chain of doubling spreads must not cost 2^n walks.
function countTokenFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  counted: Map<string, number>,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === TOKEN_FIELD) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countTokenFields(selection.selectionSet, fragments, counted);
    } else {
      const name = selection.name.value;
      let known = counted.get(name);
      if (known === undefined) {
        counted.set(name, 0); // a cycle is a validation error of its own; count it once as nothing
        const fragment = fragments.get(name);
        known = fragment === undefined ? 0 : countTokenFields(fragment.selectionSet, fragments, counted);
        counted.set(name, known);
      }
      count += known;
    }
  }
  return count;
}
