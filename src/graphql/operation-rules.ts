/**
 * The validation rules in force: graphql-armor's generic limits, and the rules specific to a mutation
 * that takes someone's secret. They run before execution, so a refused operation never reaches the
 * upstream.
 */
import { maxAliasesRule } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthRule } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesRule } from "@escape.tech/graphql-armor-max-directives";
import {
  type ASTVisitor,
  type FragmentDefinitionNode,
  GraphQLError,
  Kind,
  type SelectionSetNode,
  type ValidationContext,
  type ValidationRule,
} from "graphql";
import type { LimitsConfig } from "../config/index.js";
import { MAX_DEPTH, MAX_DIRECTIVES } from "../config/limits.js";
import { badUserInput } from "../errors.js";

/** Every validation rule the server adds to graphql-js's own, from the configured limits. */
export function validationRules(limits: LimitsConfig): ValidationRule[] {
  const rules: ValidationRule[] = [
    maxDepthRule({ n: MAX_DEPTH, ...rejectAs("is nested too deeply") }),
    // graphql-armor exempts `__typename` by default (its allowList): every alias costs a field to
    // resolve and answer, so 40 aliases of `__typename` passed a limit of 10. None is exempt here.
    maxAliasesRule({ n: limits.maxAliases, allowList: [], ...rejectAs("uses too many aliases") }),
    maxDirectivesRule({ n: MAX_DIRECTIVES, ...rejectAs("uses too many directives") }),
    maxTokenFieldsRule(limits.maxTokenFieldsPerOperation),
    knownOperationTypeRule,
  ];
  if (limits.requireSecretVariables) rules.push(secretAsVariableRule);
  return rules;
}

// graphql-armor throws its rejection by default; a throw inside validation is an unexpected error to
// Apollo (HTTP 500, logged with a stack). Reported instead, it is a coded refusal like any invalid
// operation. The limits themselves are not disclosed.
function rejectAs(what: string) {
  return {
    exposeLimits: false,
    propagateOnRejection: false,
    onReject: [
      (context: ValidationContext | null) =>
        context?.reportError(
          badUserInput(`The operation ${what}. Send a smaller operation; nothing was sent to Aspose.`),
        ),
    ],
  };
}

const TOKEN_FIELD = "accessToken";

/**
 * Refuses operations of a type the schema has no root for (this subgraph has no Subscription).
 * graphql-js 16 only notices at execution, with an uncoded error that would surface as an internal
 * error; graphql-js 17 makes this a validation rule (KnownOperationTypesRule).
 */
export function knownOperationTypeRule(context: ValidationContext): ASTVisitor {
  return {
    OperationDefinition(operation) {
      if (context.getSchema().getRootType(operation.operation) !== undefined) return;
      context.reportError(
        new GraphQLError(`This service does not support ${operation.operation} operations.`, {
          nodes: [operation],
        }),
      );
    },
  };
}

/** Refuses operations that ask for `accessToken` more than `max` times (aliases and fragments count). */
export function maxTokenFieldsRule(max: number): (context: ValidationContext) => ASTVisitor {
  return (context) => ({
    OperationDefinition(operation) {
      if (operation.operation !== "mutation") return;
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of context.getDocument().definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const count = countRootFields(operation.selectionSet, fragments, new Map());
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
// Each fragment is counted once and remembered: a chain of fragments that each spread the next one
// twice would otherwise cost 2^n walks (a few hundred tokens would hang the event loop).
function countRootFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  counted: Map<string, number>,
): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value === TOKEN_FIELD) count += 1;
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      count += countRootFields(selection.selectionSet, fragments, counted);
    } else {
      const name = selection.name.value;
      const known = counted.get(name);
      if (known !== undefined) {
        count += known;
        continue;
      }
      const fragment = fragments.get(name);
      if (fragment === undefined) continue;
      // Cycles are reported by graphql-js's own NoFragmentCycles rule; here a fragment being expanded
      // counts as 0 when met again, which stops the walk.
      counted.set(name, 0);
      const inFragment = countRootFields(fragment.selectionSet, fragments, counted);
      counted.set(name, inFragment);
      count += inFragment;
    }
  }
  return count;
}

const SECRET_AS_VARIABLE_MESSAGE =
  "clientSecret must be passed as a GraphQL variable, not written in the operation text, where it " +
  "would end up in logs, caches and traces. Use `mutation ($clientSecret: String!) { accessToken(" +
  "clientId: $clientId, clientSecret: $clientSecret) { accessToken } }` with the value in `variables`.";
// A reported token may still be valid (Aspose refusing it says nothing certain): a bearer token too.
const TOKEN_AS_VARIABLE_MESSAGE =
  "rejectedToken must be passed as a GraphQL variable, not written in the operation text, where it " +
  "would end up in logs, caches and traces: it is a bearer token.";
const SECRET_ARGUMENTS: ReadonlyMap<string, string> = new Map([
  ["clientSecret", SECRET_AS_VARIABLE_MESSAGE],
  ["rejectedToken", TOKEN_AS_VARIABLE_MESSAGE],
]);

/**
 * Refuses `clientSecret` (and a reported `rejectedToken`) written as a literal in the operation text:
 * literals end up in query logs, persisted-query and APQ caches, traces and Studio's operation
 * registry. Variables do not. A default value on the variable (`$s: String = "..."`) is a literal in
 * the text too, so it is refused as well.
 */
export function secretAsVariableRule(context: ValidationContext): ASTVisitor {
  const secretVariables = new Map<string, string>();
  return {
    Field(field) {
      if (field.name.value !== TOKEN_FIELD || context.getParentType()?.name !== "Mutation") return;
      for (const argument of field.arguments ?? []) {
        const message = SECRET_ARGUMENTS.get(argument.name.value);
        if (message === undefined) continue;
        if (argument.value.kind === Kind.VARIABLE) secretVariables.set(argument.value.name.value, message);
        // A null literal carries nothing to leak.
        else if (argument.value.kind !== Kind.NULL)
          context.reportError(badUserInput(message, {}, [argument]));
      }
    },
    Document: {
      leave(document) {
        for (const definition of document.definitions) {
          if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
          for (const variable of definition.variableDefinitions ?? []) {
            const message = secretVariables.get(variable.variable.name.value);
            if (variable.defaultValue === undefined || message === undefined) continue;
            context.reportError(badUserInput(message, {}, [variable.defaultValue]));
          }
        }
      },
    },
  };
}
