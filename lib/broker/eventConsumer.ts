import type { Channel, ConsumeMessage } from 'amqplib';
import { InvalidMessageError, parseJsonMessage } from '../contracts/messages.js';
import type { Logger } from '../platform/logger.js';
import type { MessageHandler } from './createBroker.js';

/**
 * A consumer of one event queue: parses each message from `unknown`, hands it to `handle` and
 * acks it once handled. A message that does not parse is dead-lettered with a log line, never
 * retried; a throw from `handle` leaves the message to be delivered again.
 */
export function eventConsumer<T>(
  parse: (raw: unknown) => T,
  handle: (message: T) => Promise<void>,
  log: Logger,
): MessageHandler {
  return async (delivery: ConsumeMessage, channel: Channel) => {
    let message: T;
    try {
      message = parse(parseJsonMessage(delivery.content));
    } catch (error) {
      if (!(error instanceof InvalidMessageError)) throw error;
      log.warn({ err: error, queue: delivery.fields.routingKey }, 'malformed event dead-lettered');
      channel.nack(delivery, false, false);
      return;
    }
    await handle(message);
    channel.ack(delivery);
  };
}
