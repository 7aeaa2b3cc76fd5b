import type { OperationLimits } from './createOperationGuardPlugin.js';
import type { EnvReader } from '../platform/readEnv.js';
import { readOperationLimits } from './readOperationLimits.js';
import { readSecret } from '../platform/readSecret.js';
import { readDatabaseSettings, type DatabaseSettings } from '../platform/mongo.js';
import { readServingBasics, type ServingBasics } from '../platform/processPorts.js';
import { type SubgraphName } from '../contracts/subgraphs.js';
import { sharedLimits } from '../platform/sharedLimits.js';

/** What every subgraph's config starts with: where to listen, log, and keep its data. */
export interface ServiceBasics extends ServingBasics, DatabaseSettings {
  /** Largest JSON request body accepted, in bytes. */
  maxBodyBytes: number;
  /** The same limits the router applies, for callers that reach a subgraph directly. */
  operationLimits: OperationLimits;
  /** INTERNAL_HOP_SECRET: what the router signs its requests with (see createInternalHop). */
  internalHopSecret: Uint8Array;
}

export function readServiceBasics(
  env: EnvReader,
  service: SubgraphName,
  source: NodeJS.ProcessEnv,
): ServiceBasics {
  return {
    ...readServingBasics(source, service),
    ...readDatabaseSettings(source),
    maxBodyBytes: sharedLimits.maxRequestBytes(env),
    operationLimits: readOperationLimits(env),
    internalHopSecret: readSecret(source, 'INTERNAL_HOP_SECRET'),
  };
}
