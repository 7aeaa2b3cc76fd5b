import { fromRoot } from '../platform/projectRoot.js';
import { readEnv } from '../platform/readEnv.js';

/** Where each process listens unless its `<NAME>_PORT` says otherwise. */
export const DEFAULT_PORTS = {
  router: 4000,
  auth: 4001,
  media: 4002,
  conversion: 4003,
  worker: 4010,
} as const;
export type ProcessName = keyof typeof DEFAULT_PORTS;

/** The port `name` listens on, read as its config reads it: `<NAME>_PORT`, else the default. */
export function processPort(source: NodeJS.ProcessEnv, name: ProcessName): number {
  return readEnv(source).int(`${name.toUpperCase()}_PORT`, DEFAULT_PORTS[name], {
    min: 0,
    max: 65535,
  });
}

/**
 * The subgraphs of the supergraph, in one list: composition reads their SDL, the router
 * builds a data source per name, and the launcher starts a process per name.
 */
export const SUBGRAPHS = [
  { name: 'auth', defaultPort: DEFAULT_PORTS.auth },
  { name: 'media', defaultPort: DEFAULT_PORTS.media },
  { name: 'conversion', defaultPort: DEFAULT_PORTS.conversion },
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
