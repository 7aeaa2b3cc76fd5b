import type { Broker, EventHandler } from '../../../lib/broker/createBroker.js';
import type { ConversionUpdated } from '../../../lib/contracts/messages.js';

/** A broker that carries live events only, published by the test in memory. */
export interface FakeEventBroker extends Broker {
  /** Delivers one `conversion.updated` to every subscriber, as RabbitMQ would. */
  publish(event: Omit<ConversionUpdated, 'type' | 'version'>): void;
  /** As after a reconnect: every subscriber's `onConnected` runs. */
  reconnect(): void;
}

const notFaked = (what: string) => () => {
  throw new Error(`the fake event broker has no ${what}`);
};

/**
 * Stands in for RabbitMQ under createConversionEvents: `subscribeEvents` is real enough (the
 * bodies are the JSON the conversion subgraph publishes), the rest throws if anything uses it.
 */
export function createFakeEventBroker(): FakeEventBroker {
  const subscribers: { handler: EventHandler; onConnected: () => void }[] = [];
  return {
    topology: {} as Broker['topology'],
    subscribeEvents(routingKey, handler, onConnected) {
      if (routingKey !== 'conversion.updated') throw new Error(`unexpected key ${routingKey}`);
      subscribers.push({ handler, onConnected });
    },
    publish(event) {
      const body = Buffer.from(
        JSON.stringify({ type: 'conversion.updated', version: 1, ...event }),
      );
      for (const { handler } of subscribers) handler(body);
    },
    reconnect() {
      for (const { onConnected } of subscribers) onConnected();
    },
    publishEvent: notFaked('publishEvent'),
    sendToQueue: notFaked('sendToQueue'),
    consume: notFaked('consume'),
    stopConsuming: async () => {},
    check: async () => {},
    close: async () => {},
  };
}
