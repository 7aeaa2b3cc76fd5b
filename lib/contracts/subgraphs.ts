import { fromRoot } from '../platform/projectRoot.js';
import { DEFAULT_PORTS } from '../platform/processPorts.js';

/**
 * The subgraphs of the supergraph, in one list: composition reads their SDL, the router
 * builds a data source per name, and the launcher starts a process per name.
 */
export const SUBGRAPHS = [
  { name: 'auth', defaultPort: DEFAULT_PORTS.auth },
  { name: 'media', defaultPort: DEFAULT_PORTS.media },
  { name: 'conversion', defaultPort: DEFAULT_PORTS.conversion },
  { name: 'notification', defaultPort: DEFAULT_PORTS.notification },
] as const;

export type SubgraphName = (typeof SUBGRAPHS)[number]['name'];

/**
 * The composed schemas, committed and made by `npm run compose`: the supergraph the router
 * plans over, and the public API clients (and the SDK's codegen) are written against.
 */
export const SCHEMA_PATHS = {
  supergraph: fromRoot('schema', 'supergraph.graphql'),
  api: fromRoot('schema', 'api.graphql'),
} as const;

/** Each subgraph keeps its schema beside its code: `subgraphs/<name>/<name>.graphql`. */
export function subgraphSdlPath(name: SubgraphName): string {
  return fromRoot('subgraphs', name, `${name}.graphql`);
}
