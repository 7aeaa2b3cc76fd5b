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
  /** Finds the conversion in the query's `data`; null while a video has none yet. */
  pick: (data: Record<string, unknown>) => Record<string, unknown> | null;
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
      // The subscriber's directives (@include/@skip) stay on the field they wrote them on.
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
    pick: (data) => {
      const top = data[topField.name.value] as Record<string, unknown> | null | undefined;
      if (!top) return null;
      if (id !== undefined) return top;
      return (top.latestConversion as Record<string, unknown> | null | undefined) ?? null;
    },
  };
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
