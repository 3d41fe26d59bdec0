/**
 * Validation rules specific to a mutation that takes someone's secret. They run before execution, so
 * a refused operation never reaches the upstream.
 */
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
} from "graphql";

import { badUserInput } from "../errors.js";

const TOKEN_FIELD = "accessToken";

/** Refuses operations that ask for `accessToken` more than `max` times (aliases and fragments count). */
export function maxTokenFieldsRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    OperationDefinition(operation) {
      if (operation.operation !== "mutation") return;
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const count = countRootFields(operation.selectionSet, fragments, new Set());
      if (count > max) {
        context.reportError(
          badUserInput(
            `An operation may request accessToken at most ${max} time(s); this one requests it ${count} times.`,
            {},
            [operation],
          ),
        );
      }
    },
  });
}

// Mutation fields only appear at the root of a mutation, possibly through fragments on Mutation.
function countRootFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  expanding: Set<string>,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === TOKEN_FIELD) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countRootFields(selection.selectionSet, fragments, expanding);
    } else {
      const name = selection.name.value;
      const fragment = fragments.get(name);
      // Cycles are reported by graphql-js's own NoFragmentCycles rule; here they just stop the walk.
      if (fragment === undefined || expanding.has(name)) continue;
      expanding.add(name);
      count += countRootFields(fragment.selectionSet, fragments, expanding);
      expanding.delete(name);
    }
  }
  return count;
}

/**
 * Refuses `clientSecret` written as a literal in the operation text: literals end up in query logs,
 * persisted-query and APQ caches, traces and Studio's operation registry. Variables do not.
 */
export function secretAsVariableRule(context: ValidationContext): ASTVisitor {
  return {
    Field(field) {
      if (field.name.value !== TOKEN_FIELD || context.getParentType()?.name !== "Mutation") return;
      const secret = field.arguments?.find((argument) => argument.name.value === "clientSecret");
      if (secret === undefined || secret.value.kind === Kind.VARIABLE) return;
      context.reportError(
        badUserInput(
          "clientSecret must be passed as a GraphQL variable, not written in the operation text, where it " +
            "would end up in logs, caches and traces. Use `mutation ($clientSecret: String!) { accessToken(" +
            "clientId: $clientId, clientSecret: $clientSecret) { accessToken } }` with the value in `variables`.",
          {},
          [secret],
        ),
      );
    },
  };
}
