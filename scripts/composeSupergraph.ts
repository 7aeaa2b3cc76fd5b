import { readFileSync } from 'node:fs';
import { composeServices } from '@apollo/composition';
import { printSchema } from '@apollo/federation-internals';
import { parse } from 'graphql';
import { SUBGRAPHS, subgraphSdlPath } from '../lib/contracts/subgraphs.js';

export interface ComposedSchemas {
  /** What the router runs: every subgraph's types joined, with federation directives. */
  supergraphSdl: string;
  /** What clients see: the public API, input to the SDK's code generation. */
  apiSdl: string;
}

/**
 * Composes the subgraphs' committed SDL files. The URLs written into the supergraph are the
 * local defaults only; the router replaces them from its configuration.
 */
export function composeSupergraph(): ComposedSchemas {
  const result = composeServices(
    SUBGRAPHS.map(({ name, defaultPort }) => ({
      name,
      url: `http://127.0.0.1:${defaultPort}/graphql`,
      typeDefs: parse(readFileSync(subgraphSdlPath(name), 'utf8')),
    })),
  );
  if (result.errors) {
    throw new Error(`composition failed:\n${result.errors.map((e) => e.message).join('\n')}`);
  }
  return {
    supergraphSdl: `${result.supergraphSdl.trimEnd()}\n`,
    apiSdl: `${printSchema(result.schema.toAPISchema()).trimEnd()}\n`,
  };
}
