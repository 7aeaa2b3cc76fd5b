import {
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export interface QueryMeasure {
  /** The deepest field path: `{ me { id } }` has depth 2. */
  depth: number;
  /**
   * Fields the operation would resolve, counting each alias and each use of a fragment, so
   * 1,000 aliases of one field count 1,000. Counting stops a little past `stopAt`: fragments
   * that spread each other twice per level grow exponentially, and the count only has to say
   * "too many".
   */
  fields: number;
}

/**
 * Depth and size of one operation (the named one, or every operation when unnamed), following
 * fragment spreads. A fragment that spreads itself is already a validation error, but a cycle
 * still stops here. Introspection fields count like any other.
 */
export function measureQuery(
  document: DocumentNode,
  operationName?: string | null,
  stopAt = 100_000,
): QueryMeasure {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  let fields = 0;

  const depthOf = (set: SelectionSetNode, visiting: ReadonlySet<string>): number => {
    let deepest = 0;
    for (const selection of set.selections) {
      if (fields > stopAt) break;
      if (selection.kind === Kind.FIELD) {
        fields++;
        const below = selection.selectionSet ? depthOf(selection.selectionSet, visiting) : 0;
        deepest = Math.max(deepest, 1 + below);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visiting.has(name)) {
          deepest = Math.max(deepest, depthOf(fragment.selectionSet, new Set([...visiting, name])));
        }
      }
    }
    return deepest;
  };

  let depth = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    depth = Math.max(depth, depthOf(definition.selectionSet, new Set()));
  }
  return { depth, fields };
}
