import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
  type ValueNode,
} from 'graphql';

// Types are read by shape, not with graphql's isX() predicates: those compare classes, and a
// schema built by another copy of graphql (a test runner may load both its CJS and ESM builds)
// fails them.
interface Composite {
  name: string;
  getFields?: () => Record<string, GraphQLField<unknown, unknown>>;
  getTypes?: () => unknown;
}
const compositeNamed = (schema: GraphQLSchema, name: string) =>
  schema.getType(name) as Composite | undefined;
const namedOf = (type: GraphQLOutputType): Composite => {
  let inner: unknown = type;
  while (typeof inner === 'object' && inner !== null && 'ofType' in inner) inner = inner.ofType;
  return inner as Composite;
};
const isComposite = (type: Composite | null | undefined): type is Composite =>
  !!type && (typeof type.getFields === 'function' || typeof type.getTypes === 'function');
const isList = (type: GraphQLOutputType) => String(type).startsWith('[');

/** Federation's entry point for the router's entity fetches (`_entities(representations:)`). */
const ENTITIES = '_entities';

export interface QueryCostOptions {
  /** Items assumed for a list whose size the query does not say (no `first`, no list argument). */
  defaultListSize: number;
}

/**
 * What an operation may cost to answer, before it runs: each object field (a resolver, often a
 * database read or a subgraph fetch) counts 1, times every list it sits under. A list's size
 * is its `first` argument (or that argument's default), else the length of a list argument
 * (`_entities(representations: …)`), else `defaultListSize`; the `edges` of a connection are
 * already counted by the connection's `first`. Scalars cost nothing (the field count limits
 * those), and so does introspection, which is bounded by the schema. Federation's
 * `_entities` costs its number of representations times what is selected below, at least 1
 * each: every representation is a reference to resolve, a read, even when only scalars of it
 * are asked for (otherwise 10,000 representations would cost 1). Expects a validated
 * document whose field count is already bounded, so fragments are simply followed.
 */
export function estimateQueryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Readonly<Record<string, unknown>> | undefined,
  options: QueryCostOptions,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }

  // A variable the request leaves out takes its declared default: `($n: Int = 100)`.
  const defaults = new Map<string, ValueNode>();
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    for (const variable of definition.variableDefinitions ?? []) {
      if (variable.defaultValue) defaults.set(variable.variable.name.value, variable.defaultValue);
    }
  }
  const valueOf = (node: ValueNode): unknown => {
    if (node.kind === Kind.VARIABLE) {
      const given = variables?.[node.name.value];
      if (given !== undefined) return given;
      const fallback = defaults.get(node.name.value);
      return fallback && fallback.kind !== Kind.VARIABLE ? valueOf(fallback) : undefined;
    }
    if (node.kind === Kind.INT) return Number(node.value);
    if (node.kind === Kind.LIST) return node.values;
    return undefined;
  };

  const listSize = (
    parent: Composite,
    field: GraphQLField<unknown, unknown>,
    args: ReadonlyMap<string, unknown>,
  ): number => {
    const first = field.args.find((arg) => arg.name === 'first');
    if (first) {
      const given = args.get('first') ?? first.defaultValue;
      return typeof given === 'number' && given >= 0 ? given : options.defaultListSize;
    }
    if (!isList(field.type)) return 1;
    if (parent.name.endsWith('Connection')) return 1;
    for (const value of args.values()) if (Array.isArray(value)) return value.length;
    return options.defaultListSize;
  };

  const costOf = (
    set: SelectionSetNode,
    parent: Composite,
    visiting: ReadonlySet<string>,
  ): number => {
    let total = 0;
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue;
        const field = parent.getFields?.()[selection.name.value];
        const type = field && namedOf(field.type);
        if (!field || !isComposite(type)) continue;
        const args = new Map(
          (selection.arguments ?? []).map((arg) => [arg.name.value, valueOf(arg.value)]),
        );
        const below = selection.selectionSet ? costOf(selection.selectionSet, type, visiting) : 0;
        total +=
          field.name === ENTITIES
            ? listSize(parent, field, args) * Math.max(1, below)
            : 1 + listSize(parent, field, args) * below;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition
          ? compositeNamed(schema, selection.typeCondition.name.value)
          : parent;
        if (isComposite(type)) total += costOf(selection.selectionSet, type, visiting);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        const type = fragment && compositeNamed(schema, fragment.typeCondition.name.value);
        if (fragment && isComposite(type) && !visiting.has(name)) {
          total += costOf(fragment.selectionSet, type, new Set([...visiting, name]));
        }
      }
    }
    return total;
  };

  let cost = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    const root = schema.getRootType(definition.operation) as Composite | undefined;
    if (root) cost += costOf(definition.selectionSet, root, new Set());
  }
  return cost;
}
