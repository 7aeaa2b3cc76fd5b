import { readEnv } from '../../lib/readEnv.js';
import { readServiceBasics, type ServiceBasics } from '../../lib/readServiceBasics.js';
import {
  readTokenVerification,
  type TokenVerificationConfig,
} from '../../lib/readTokenVerification.js';

export interface ConversionConfig extends ServiceBasics {
  amqpUrl: string;
  /** AMQP_NAME_PREFIX: prefix of every exchange and queue name (empty in production). */
  amqpNamePrefix: string;
  tokens: TokenVerificationConfig;
  /**
   * A RUNNING conversion whose worker has not been heard from for this long (it saves a
   * heartbeat every 0.5 s) is handed to another worker; a QUEUED one whose job was never sent
   * gets it sent.
   */
  staleAfterMs: number;
}

export function loadConversionConfig(source: NodeJS.ProcessEnv = process.env): ConversionConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'CONVERSION_PORT', 4003),
    amqpUrl: env.string('AMQP_URL'),
    amqpNamePrefix: env.string('AMQP_NAME_PREFIX', ''),
    tokens: readTokenVerification(env),
    staleAfterMs: 1000 * env.int('CONVERSION_STALE_SECONDS', 60, { min: 2 }),
  };
}
