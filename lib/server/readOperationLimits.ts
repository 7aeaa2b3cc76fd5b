import type { OperationLimits } from './createOperationGuardPlugin.js';
import type { EnvReader } from '../platform/readEnv.js';

/** MAX_QUERY_DEPTH, MAX_QUERY_FIELDS and MAX_QUERY_COST: the same for the router and subgraphs. */
export function readOperationLimits(env: EnvReader): OperationLimits {
  return {
    maxDepth: env.int('MAX_QUERY_DEPTH', 12, { min: 2, max: 100 }),
    maxFields: env.int('MAX_QUERY_FIELDS', 500, { min: 10, max: 100_000 }),
    maxCost: env.int('MAX_QUERY_COST', 5_000, { min: 10, max: 10_000_000 }),
  };
}
