import type { OperationLimits } from './createOperationGuardPlugin.js';
import { LOG_LEVELS, type LogLevel } from '../platform/logger.js';
import type { EnvReader } from '../platform/readEnv.js';
import { readOperationLimits } from './readOperationLimits.js';
import { readSecret, readUrlWithPassword } from '../platform/readSecret.js';
import { processPort, type SubgraphName } from '../contracts/subgraphs.js';

/** What every subgraph's config starts with: where to listen, log, and keep its data. */
export interface ServiceBasics {
  host: string;
  port: number;
  logLevel: LogLevel;
  mongodbUri: string;
  /** Database names are `<prefix><service>`: `reelflux_auth` by default. */
  dbPrefix: string;
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
    host: env.string('HOST', '0.0.0.0'),
    port: processPort(source, service),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    mongodbUri: readUrlWithPassword(source, 'MONGODB_URI', 'MONGODB_PASSWORD'),
    dbPrefix: env.string('DB_PREFIX', 'reelflux_'),
    maxBodyBytes: env.int('MAX_REQUEST_BYTES', 1_048_576, { min: 1024 }),
    operationLimits: readOperationLimits(env),
    internalHopSecret: readSecret(source, 'INTERNAL_HOP_SECRET'),
  };
}
