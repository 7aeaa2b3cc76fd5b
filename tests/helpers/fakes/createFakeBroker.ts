import type { Options } from 'amqplib';
import type { Broker, MessageHandler } from '../../../lib/broker/createBroker.js';
import { topologyNames } from '../../../lib/broker/topology.js';
import type { ConversionFinished, EventMessage } from '../../../lib/contracts/messages.js';

/** One thing sent through the fake broker, in the order sent. */
export type SentMessage =
  | { kind: 'event'; message: EventMessage }
  | { kind: 'queue'; queue: string; body: unknown; options?: Options.Publish };

/** A Broker that records what is published, sent and consumed, and delivers nothing itself. */
export interface FakeBroker extends Broker {
  /** Events and queued messages, in the order they were published or sent. */
  sent: SentMessage[];
  /** Handlers by queue, as `consume` registered them. */
  consumers: Map<string, MessageHandler>;
  /** The `conversion.updated` events published, as `status` (and progress when RUNNING). */
  updates(): string[];
  /** The conversion.finished events published, in order. */
  finished(): ConversionFinished[];
  /** Bodies sent to `queue`. */
  sentTo(queue: string): unknown[];
  /** While set, publishEvent rejects with it (RabbitMQ away). */
  failEvents: Error | undefined;
}

export function createFakeBroker(): FakeBroker {
  const sent: SentMessage[] = [];
  const consumers = new Map<string, MessageHandler>();
  const broker: FakeBroker = {
    topology: topologyNames('fake.'),
    sent,
    consumers,
    failEvents: undefined,
    publishEvent(message) {
      if (broker.failEvents) return Promise.reject(broker.failEvents);
      sent.push({ kind: 'event', message });
      return Promise.resolve();
    },
    sendToQueue(queue, body, options) {
      sent.push({ kind: 'queue', queue, body, ...(options ? { options } : {}) });
      return Promise.resolve();
    },
    consume(queue, _prefetch, handler) {
      consumers.set(queue, handler);
    },
    subscribeEvents() {},
    stopConsuming: () => Promise.resolve(),
    check: () => Promise.resolve(),
    close: () => Promise.resolve(),
    updates: () =>
      sent.flatMap((s) =>
        s.kind === 'event' && s.message.type === 'conversion.updated'
          ? [s.message.status === 'RUNNING' ? `RUNNING ${s.message.progress}` : s.message.status]
          : [],
      ),
    finished: () =>
      sent.flatMap((s) =>
        s.kind === 'event' && s.message.type === 'conversion.finished' ? [s.message] : [],
      ),
    sentTo: (queue) =>
      sent.flatMap((s) => (s.kind === 'queue' && s.queue === queue ? [s.body] : [])),
  };
  return broker;
}
