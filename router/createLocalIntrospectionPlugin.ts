import { HeaderMap, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import {
  Kind,
  OperationTypeNode,
  execute,
  type DocumentNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Answers operations that select nothing but introspection with graphql-js, against the same
 * public API schema, instead of handing them to the gateway. The gateway reads every operation
 * into @apollo/federation-internals' model first, and that model (2.14) lacks parts of
 * introspection graphql 16 serves, `__Type.isOneOf` and `__Directive.isDeprecated`: IDEs
 * asking for them (`getIntrospectionQuery({ oneOf: true })`) got INVALID_GRAPHQL and HTTP 500.
 * The gateway itself answers introspection with graphql-js on this schema, so the answer is the
 * one it would give. Runs after the operation guard (`responseForOperation` follows
 * `didResolveOperation`); anything graphql-js cannot answer cleanly still goes to the gateway.
 */
export function createLocalIntrospectionPlugin(): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ schema, document, operation, operationName, request }) {
          if (operation?.operation !== OperationTypeNode.QUERY) return null;
          if (!selectsOnlyIntrospection(operation.selectionSet, document)) return null;
          const result = await execute({
            schema,
            document,
            operationName,
            variableValues: request.variables ?? null,
          });
          if (result.errors) return null;
          return {
            http: { headers: new HeaderMap() },
            body: { kind: 'single', singleResult: { data: result.data ?? null } },
          };
        },
      };
    },
  };
}

/** Every root field, through fragments, is `__schema`, `__type` or `__typename`. */
function selectsOnlyIntrospection(set: SelectionSetNode, document: DocumentNode): boolean {
  return set.selections.every((selection) => {
    if (selection.kind === Kind.FIELD) return selection.name.value.startsWith('__');
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      return selectsOnlyIntrospection(selection.selectionSet, document);
    }
    const fragment = document.definitions.find(
      (definition) =>
        definition.kind === Kind.FRAGMENT_DEFINITION &&
        definition.name.value === selection.name.value,
    );
    return (
      fragment?.kind === Kind.FRAGMENT_DEFINITION &&
      selectsOnlyIntrospection(fragment.selectionSet, document)
    );
  });
}
