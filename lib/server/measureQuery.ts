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
  /**
   * With `introspectionApart`, the fields of `__schema` and `__type` selections, themselves
   * included, counted the same way; they are then left out of `depth` and `fields`. Else 0.
   */
  introspectionFields: number;
}

export interface MeasureOptions {
  /** Counting stops a little past this many fields (either count). @default 100_000 */
  stopAt?: number;
  /**
   * Measure `__schema` and `__type` apart from the rest, for a server that answers
   * introspection: the standard introspection query is 15 levels deep through `ofType`, and
   * its nesting is bounded by an introspection rule instead. `__typename` is an ordinary
   * field either way. @default false
   */
  introspectionApart?: boolean;
}

/**
 * Depth and size of one operation (the named one, or every operation when unnamed), following
 * fragment spreads. A fragment that spreads itself is already a validation error, but a cycle
 * still stops here. Introspection counts like any other field unless `introspectionApart`.
 */
export function measureQuery(
  document: DocumentNode,
  operationName?: string | null,
  options: MeasureOptions = {},
): QueryMeasure {
  const { stopAt = 100_000, introspectionApart = false } = options;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION)
      fragments.set(definition.name.value, definition);
  }
  let fields = 0;
  let introspectionFields = 0;

  // Below an introspection field nothing adds to the depth; its fields are only counted.
  const depthOf = (
    set: SelectionSetNode,
    visiting: ReadonlySet<string>,
    inIntrospection: boolean,
  ): number => {
    let deepest = 0;
    for (const selection of set.selections) {
      if (fields > stopAt || introspectionFields > stopAt) break;
      if (selection.kind === Kind.FIELD) {
        const apart =
          inIntrospection || (introspectionApart && isSchemaIntrospection(selection.name.value));
        if (apart) introspectionFields++;
        else fields++;
        const below = selection.selectionSet ? depthOf(selection.selectionSet, visiting, apart) : 0;
        if (!apart) deepest = Math.max(deepest, 1 + below);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        deepest = Math.max(deepest, depthOf(selection.selectionSet, visiting, inIntrospection));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (fragment && !visiting.has(name)) {
          const inside = new Set([...visiting, name]);
          deepest = Math.max(deepest, depthOf(fragment.selectionSet, inside, inIntrospection));
        }
      }
    }
    return deepest;
  };

  let depth = 0;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && definition.name?.value !== operationName) continue;
    depth = Math.max(depth, depthOf(definition.selectionSet, new Set(), false));
  }
  return { depth, fields, introspectionFields };
}

/**
 * `__schema`, `__type`: the introspection entry points, valid only on the query root. Any other
 * `__` field but `__typename` fails validation before an operation is measured.
 */
function isSchemaIntrospection(fieldName: string): boolean {
  return fieldName.startsWith('__') && fieldName !== '__typename';
}
