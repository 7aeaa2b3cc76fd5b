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
}

export function loadConversionConfig(source: NodeJS.ProcessEnv = process.env): ConversionConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'CONVERSION_PORT', 4003),
    amqpUrl: env.string('AMQP_URL'),
    amqpNamePrefix: env.string('AMQP_NAME_PREFIX', ''),
    tokens: readTokenVerification(env),
  };
}
