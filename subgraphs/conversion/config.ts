import { readBrokerSettings, type BrokerSettings } from '../../lib/broker/readBrokerSettings.js';
import { readEnv } from '../../lib/platform/readEnv.js';
import type { ConversionLimits } from './createConversionService.js';
import { readServiceBasics, type ServiceBasics } from '../../lib/server/readServiceBasics.js';
import {
  readTokenVerification,
  type TokenVerificationConfig,
} from '../../lib/server/readTokenVerification.js';
import { sharedLimits } from '../../lib/platform/sharedLimits.js';

export interface ConversionConfig extends ServiceBasics, BrokerSettings {
  tokens: TokenVerificationConfig;
  /**
   * A RUNNING conversion whose worker has not been heard from for this long (it saves a
   * heartbeat every 0.5 s) is handed to another worker; a QUEUED one whose job was never sent
   * gets it sent.
   */
  staleAfterMs: number;
  limits: ConversionLimits;
}

export function loadConversionConfig(source: NodeJS.ProcessEnv = process.env): ConversionConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'conversion', source),
    ...readBrokerSettings(source),
    tokens: readTokenVerification(env),
    staleAfterMs: 1000 * env.int('CONVERSION_STALE_SECONDS', 60, { min: 2 }),
    limits: {
      maxActivePerUser: env.int('MAX_ACTIVE_CONVERSIONS_PER_USER', 10, { min: 1 }),
      maxPerVideo: env.int('MAX_CONVERSIONS_PER_VIDEO', 20, { min: 1 }),
      maxRunningPerUser: env.int('MAX_RUNNING_CONVERSIONS_PER_USER', 1, { min: 1 }),
      mutationsPerMinute: sharedLimits.mutationsPerMinute(env),
    },
  };
}
