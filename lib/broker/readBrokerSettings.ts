import { readEnv } from '../platform/readEnv.js';
import { readUrlWithPassword } from '../platform/readSecret.js';

/** Where a process finds RabbitMQ, and the names it uses there. */
export interface BrokerSettings {
  amqpUrl: string;
  /** AMQP_NAME_PREFIX: prefix of every exchange and queue name (empty in production). */
  amqpNamePrefix: string;
}

export function readBrokerSettings(source: NodeJS.ProcessEnv): BrokerSettings {
  return {
    amqpUrl: readUrlWithPassword(source, 'AMQP_URL', 'AMQP_PASSWORD'),
    amqpNamePrefix: readEnv(source).string('AMQP_NAME_PREFIX', ''),
  };
}
