import {
  Kind,
  OperationTypeNode,
  getArgumentValues,
  getOperationAST,
  print,
  visit,
  type DocumentNode,
  type FieldNode,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type VariableDefinitionNode,
} from 'graphql';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';

/** Asked for with the subscriber's fields, and removed before they see the result. */
export const STATUS_ALIAS = '_reelfluxStatus';
const TARGET_VARIABLE = '_reelfluxTarget';
const CONDITIONAL_DIRECTIVES: ReadonlySet<string> = new Set(['skip', 'include']);

/** What one answer of the plan's query says about the conversion. */
export type FoundConversion =
  /** Its fields, with the status under STATUS_ALIAS. */
  | { kind: 'found'; conversion: Record<string, unknown> }
  /** A video whose conversion is not created yet: an event will bring it. */
  | { kind: 'notYet' }
  /** Nothing where the conversion should be: no event will change that. */
  | { kind: 'missing' };

/**
 * How the router answers one `conversionUpdated` subscription: the query it runs through the
 * gateway at the start and after each event, and where the conversion is in that query's result.
 */
export interface ConversionWatchPlan {
  /** The subscriber's name for the field (an alias, or `conversionUpdated`). */
  responseKey: string;
  /** Events for this conversion, or for any conversion of this video, wake the watch. */
  target: { conversionId: string } | { videoId: string };
  query: string;
  variables: Record<string, unknown>;
  /** Finds the conversion in the query's `data`. */
  find: (data: Record<string, unknown>) => FoundConversion;
}

/**
 * Turns a validated `subscription { conversionUpdated(…) { … } }` into a query with the same
 * selection: `conversion(id:)` for an id, `video(id:) { latestConversion }` for a video id (so
 * the watch follows a re-conversion too). Fragments, directives and the variables the selection
 * uses are kept, so any federated field can be selected.
 */
export function planConversionWatch(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variableValues: Record<string, unknown>,
): ConversionWatchPlan {
  const operation = getOperationAST(document, operationName);
  if (!operation || operation.operation !== OperationTypeNode.SUBSCRIPTION) {
    throw graphqlError(
      ErrorCode.BAD_REQUEST,
      'Only subscriptions are served over WebSocket; send queries and mutations with HTTP POST',
    );
  }
  const [root, ...others] = operation.selectionSet.selections;
  if (!root || others.length > 0 || root.kind !== Kind.FIELD) {
    throw graphqlError(ErrorCode.BAD_REQUEST, 'Select exactly one subscription field');
  }
  refuseConditionalRoot(operation);
  const fieldDef = schema.getSubscriptionType()?.getFields()[root.name.value];
  if (!fieldDef || root.name.value !== 'conversionUpdated' || !root.selectionSet) {
    throw graphqlError(ErrorCode.BAD_REQUEST, `Unknown subscription ${root.name.value}`);
  }
  const args = getArgumentValues(fieldDef, root, variableValues) as {
    id?: string | null;
    videoId?: string | null;
  };
  // Ids are matched against events exactly, and events spell them in lower case.
  const id = args.id?.toLowerCase() ?? undefined;
  const videoId = args.videoId?.toLowerCase() ?? undefined;
  if ((id === undefined) === (videoId === undefined)) {
    throw graphqlError(ErrorCode.BAD_USER_INPUT, 'Give exactly one of id and videoId');
  }

  const selection = withStatus(root.selectionSet);
  const targetArgument = {
    kind: Kind.ARGUMENT,
    name: { kind: Kind.NAME, value: 'id' },
    value: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: TARGET_VARIABLE } },
  } as const;
  const topField: FieldNode =
    id !== undefined
      ? { ...field('conversion', selection), arguments: [targetArgument] }
      : {
          ...field('video', {
            kind: Kind.SELECTION_SET,
            selections: [field('latestConversion', selection)],
          }),
          arguments: [targetArgument],
        };
  const queryOperation: OperationDefinitionNode = {
    kind: Kind.OPERATION_DEFINITION,
    operation: OperationTypeNode.QUERY,
    name: { kind: Kind.NAME, value: 'ConversionUpdated' },
    directives: [],
    selectionSet: {
      kind: Kind.SELECTION_SET,
      // The subscriber's other directives stay on the field they wrote them on.
      selections: [{ ...topField, directives: root.directives ?? [] }],
    },
    variableDefinitions: [],
  };
  const fragments = document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION);
  const used = usedVariables([queryOperation, ...fragments]);
  const variableDefinitions: VariableDefinitionNode[] = [
    {
      kind: Kind.VARIABLE_DEFINITION,
      variable: { kind: Kind.VARIABLE, name: { kind: Kind.NAME, value: TARGET_VARIABLE } },
      type: {
        kind: Kind.NON_NULL_TYPE,
        type: { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: 'ID' } },
      },
    },
    ...(operation.variableDefinitions ?? []).filter((d) => used.has(d.variable.name.value)),
  ];
  const query: DocumentNode = {
    kind: Kind.DOCUMENT,
    definitions: [{ ...queryOperation, variableDefinitions }, ...fragments],
  };
  const variables: Record<string, unknown> = { [TARGET_VARIABLE]: id ?? videoId };
  for (const name of used) if (name in variableValues) variables[name] = variableValues[name];

  return {
    responseKey: root.alias?.value ?? root.name.value,
    target: id !== undefined ? { conversionId: id } : { videoId: videoId as string },
    query: print(query),
    variables,
    find: (data) => {
      const top = data[topField.name.value] as Record<string, unknown> | null | undefined;
      if (!top) return { kind: 'missing' };
      if (id !== undefined) return { kind: 'found', conversion: top };
      const latest = top.latestConversion as Record<string, unknown> | null | undefined;
      if (latest) return { kind: 'found', conversion: latest };
      return latest === null ? { kind: 'notYet' } : { kind: 'missing' };
    },
  };
}

/**
 * Refuses `@skip` and `@include` on the subscription's root selections, as the
 * specification's draft does (graphql-spec#860, and so graphql-js 17 and Apollo's router).
 * graphql-js 16 counts the fields left once they are applied: a skipped root passes its
 * single-field rule with none, and the query made from it would ask for nothing, so the watch
 * would wait for ever; one that reads a variable makes that rule throw instead of reporting.
 * So the router calls this before validating, and the planner again for itself.
 */
export function refuseConditionalRoot(operation: OperationDefinitionNode | null | undefined): void {
  if (operation?.operation !== OperationTypeNode.SUBSCRIPTION) return;
  for (const selection of operation.selectionSet.selections) {
    const conditional = selection.directives?.find((d) => CONDITIONAL_DIRECTIVES.has(d.name.value));
    if (conditional) {
      throw graphqlError(
        ErrorCode.BAD_REQUEST,
        `@${conditional.name.value} is not allowed on the subscription field: decide before subscribing`,
      );
    }
  }
}

function field(name: string, selectionSet: SelectionSetNode): FieldNode {
  return { kind: Kind.FIELD, name: { kind: Kind.NAME, value: name }, selectionSet };
}

/** The subscriber's selection plus the status, which tells the router when to complete. */
function withStatus(selectionSet: SelectionSetNode): SelectionSetNode {
  const status: FieldNode = {
    kind: Kind.FIELD,
    alias: { kind: Kind.NAME, value: STATUS_ALIAS },
    name: { kind: Kind.NAME, value: 'status' },
  };
  return { ...selectionSet, selections: [status, ...selectionSet.selections] };
}

function usedVariables(nodes: readonly DocumentNode['definitions'][number][]): Set<string> {
  const names = new Set<string>();
  for (const node of nodes) {
    visit(node, {
      Variable: (variable) => {
        if (variable.name.value !== TARGET_VARIABLE) names.add(variable.name.value);
      },
    });
  }
  return names;
}
