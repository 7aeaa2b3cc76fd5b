import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { Logger } from './logger.js';
import { EVENTS_EXCHANGE, type EventMessage } from './messages.js';

export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

export interface Broker {
  /** Publishes persistently and resolves only once RabbitMQ has confirmed the message. */
  publish(message: EventMessage): Promise<void>;
  /** Resolves when connected; throws BrokerUnavailableError otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}

export interface BrokerOptions {
  url: string;
  log: Logger;
  /** How long a publish waits for a connection and a confirm before giving up. */
  publishTimeoutMs?: number;
}

/**
 * One RabbitMQ connection with a confirm channel, kept alive across broker restarts: on loss
 * it reconnects with backoff (0.5 s doubling to 10 s) and declares the topology again before
 * anything is published. Every connection and channel has an error listener, so a broker
 * going away is a log line, never a crash.
 */
export function createBroker(options: BrokerOptions): Broker {
  const { log } = options;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  let connection: ChannelModel | undefined;
  let channel: ConfirmChannel | undefined;
  let closing = false;
  let delay = 500;
  let waiters: (() => void)[] = [];

  const connect = async (): Promise<void> => {
    try {
      const model = await amqp.connect(options.url, { timeout: 5_000 });
      model.on('error', (error: Error) => log.warn({ err: error }, 'rabbitmq connection error'));
      model.on('close', () => {
        connection = undefined;
        channel = undefined;
        if (!closing) {
          log.warn('rabbitmq connection lost; reconnecting');
          schedule();
        }
      });
      const confirm = await model.createConfirmChannel();
      confirm.on('error', (error: Error) => log.warn({ err: error }, 'rabbitmq channel error'));
      await declareTopology(confirm);
      connection = model;
      channel = confirm;
      delay = 500;
      log.info('rabbitmq connected');
      for (const wake of waiters) wake();
      waiters = [];
    } catch (error) {
      log.warn({ err: error }, 'rabbitmq connect failed');
      schedule();
    }
  };
  const schedule = () => {
    if (closing) return;
    setTimeout(() => void connect(), delay).unref();
    delay = Math.min(delay * 2, 10_000);
  };
  void connect();

  const connectedChannel = async (): Promise<ConfirmChannel> => {
    if (channel) return channel;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BrokerUnavailableError('RabbitMQ is unavailable')),
        publishTimeoutMs,
      );
      waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    if (!channel) throw new BrokerUnavailableError('RabbitMQ is unavailable');
    return channel;
  };

  return {
    async publish(message) {
      const ch = await connectedChannel();
      const body = Buffer.from(JSON.stringify(message));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new BrokerUnavailableError('RabbitMQ did not confirm in time')),
          publishTimeoutMs,
        );
        ch.publish(
          EVENTS_EXCHANGE,
          message.type,
          body,
          { persistent: true, contentType: 'application/json', type: message.type },
          (error) => {
            clearTimeout(timer);
            if (error)
              reject(new BrokerUnavailableError(`RabbitMQ refused the message: ${String(error)}`));
            else resolve();
          },
        );
      });
    },
    async check() {
      if (!channel) throw new BrokerUnavailableError('not connected to RabbitMQ');
    },
    async close() {
      closing = true;
      await connection?.close().catch(() => undefined);
    },
  };
}

/** Declared by every process on every (re)connect; declarations are idempotent. */
async function declareTopology(channel: ConfirmChannel): Promise<void> {
  await channel.assertExchange(EVENTS_EXCHANGE, 'topic', { durable: true });
}
