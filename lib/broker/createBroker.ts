import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import amqp, {
  type Channel,
  type ChannelModel,
  type ConfirmChannel,
  type ConsumeMessage,
  type Options,
} from 'amqplib';
import type { Logger } from '../platform/logger.js';
import type { BrokerSettings } from './readBrokerSettings.js';
import type { EventMessage } from '../contracts/messages.js';
import {
  declareTopology,
  QUEUED_EVENTS,
  topologyNames,
  type BrokerRole,
  type Topology,
} from './topology.js';

/**
 * The longest wait between two connection attempts: how late, at most, a process notices that
 * RabbitMQ is back. Each attempt at a broker that is down costs it one refused connection.
 */
const MAX_RECONNECT_DELAY_MS = 2_000;

export class BrokerUnavailableError extends Error {
  override name = 'BrokerUnavailableError';
}

/** Must ack or nack `message` on `channel`; a throw is logged and the message requeued. */
export type MessageHandler = (message: ConsumeMessage, channel: Channel) => Promise<void>;

export interface Broker {
  /** The exchange and queue names this broker declared (prefixed by AMQP_NAME_PREFIX). */
  topology: Topology;
  /** To `reelflux.events`, routed by `type`; resolves once RabbitMQ has confirmed it. */
  publishEvent(message: EventMessage): Promise<void>;
  /** Straight to a queue (jobs, retries), persistent and confirmed. */
  sendToQueue(queue: string, body: unknown, options?: Options.Publish): Promise<void>;
  /** Consumes `queue` with `prefetch` unacked messages at most, again after every reconnect. */
  consume(queue: string, prefetch: number, handler: MessageHandler): void;
  /**
   * Live events for this process alone: an exclusive queue bound to `routingKey`, deleted with
   * the connection and declared again after every reconnect. Events published while this process
   * was disconnected are gone, so `onConnected` runs after each (re)connect to let the caller
   * catch up from the database.
   */
  subscribeEvents(routingKey: string, handler: EventHandler, onConnected: () => void): void;
  /** Stops taking new messages (SIGTERM); in-flight ones are still acked. */
  stopConsuming(): Promise<void>;
  /** Resolves when connected; throws BrokerUnavailableError otherwise (for /readyz). */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** Gets each event body; acknowledging is automatic (a live feed, nothing to redeliver). */
export type EventHandler = (content: Buffer) => void;

export interface BrokerOptions {
  /** How long a publish waits for a connection and a confirm before giving up. */
  publishTimeoutMs?: number;
  /** amqplib's `connect`; the unit tests of reconnecting pass a fake. */
  connect?: (url: string, socketOptions: { timeout: number }) => Promise<ChannelModel>;
}

interface EventSubscription {
  routingKey: string;
  handler: EventHandler;
  onConnected: () => void;
}

interface Consumer {
  queue: string;
  prefetch: number;
  handler: MessageHandler;
  channel?: Channel;
  tag?: string;
}

/**
 * One RabbitMQ connection, kept alive across broker restarts: on loss it reconnects with
 * backoff (0.5 s doubling to 2 s), declares the topology again, and resubscribes every
 * consumer before anything is published. Every connection and channel has an error listener,
 * so a broker going away is a log line, never a crash.
 */
export function createBroker(
  settings: BrokerSettings,
  /** Which process this is: it declares that part of the topology (see brokerPermissions). */
  role: BrokerRole,
  log: Logger,
  options: BrokerOptions = {},
): Broker {
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const connectTo = options.connect ?? amqp.connect;
  const topology = topologyNames(settings.amqpNamePrefix);
  const consumers: Consumer[] = [];
  const eventSubscriptions: EventSubscription[] = [];
  let connection: ChannelModel | undefined;
  let publisher: ConfirmChannel | undefined;
  let closing = false;
  let consuming = true;
  let delay = 500;
  let waiters: (() => void)[] = [];
  /** Ids of mandatory messages RabbitMQ handed back because no queue was bound for them. */
  const returned = new Set<string>();

  /**
   * RabbitMQ cancels a consumer whose queue went away: deleted, or on a cluster node that was
   * lost. Nothing would ever be delivered to it again, so start over on a new connection, which
   * declares the queue again (retrying while its node is away) and subscribes anew.
   */
  const cancelledByBroker = (model: ChannelModel, queue: string) => {
    // Draining or closing: what the broker cancelled is what this process is letting go of.
    if (closing || !consuming) return;
    log.warn({ queue }, 'rabbitmq cancelled a consumer; reconnecting');
    void model.close().catch(() => {});
  };

  const subscribe = async (model: ChannelModel, consumer: Consumer) => {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) =>
      log.warn({ err: error, queue: consumer.queue }, 'rabbitmq consumer channel error'),
    );
    await channel.prefetch(consumer.prefetch);
    const { consumerTag } = await channel.consume(consumer.queue, (message) => {
      if (!message) return cancelledByBroker(model, consumer.queue);
      consumer.handler(message, channel).catch((error: unknown) => {
        log.error({ err: error, queue: consumer.queue }, 'message handler failed; requeueing');
        setTimeout(() => {
          try {
            channel.nack(message, false, true);
          } catch {
            // channel already gone: RabbitMQ requeues unacked messages by itself
          }
        }, 1_000);
      });
    });
    consumer.channel = channel;
    consumer.tag = consumerTag;
  };

  const listen = async (model: ChannelModel, subscription: EventSubscription) => {
    const channel = await model.createChannel();
    channel.on('error', (error: Error) => log.warn({ err: error }, 'rabbitmq event channel error'));
    // Named after the host so the management UI shows whose it is; exclusive and auto-deleted,
    // so a vanished process leaves nothing behind.
    const name = `${topology.exchange}.${subscription.routingKey}.${hostname()}.${randomUUID().slice(0, 8)}`;
    await channel.assertQueue(name, {
      exclusive: true,
      autoDelete: true,
      durable: false,
      // A process that stops reading must not make the broker hoard its events.
      arguments: { 'x-max-length': 10_000, 'x-overflow': 'drop-head' },
    });
    await channel.bindQueue(name, topology.exchange, subscription.routingKey);
    await channel.consume(
      name,
      (message) => {
        if (message) subscription.handler(message.content);
        else cancelledByBroker(model, name);
      },
      { noAck: true },
    );
    subscription.onConnected();
  };

  const connect = async (): Promise<void> => {
    let model: ChannelModel | undefined;
    try {
      model = await connectTo(settings.amqpUrl, { timeout: 5_000 });
      model.on('error', (error: Error) => log.warn({ err: error }, 'rabbitmq connection error'));
      model.on('close', () => {
        connection = undefined;
        publisher = undefined;
        if (!closing) {
          log.warn('rabbitmq connection lost; reconnecting');
          schedule();
        }
      });
      const confirm = await model.createConfirmChannel();
      confirm.on('error', (error: Error) => log.warn({ err: error }, 'rabbitmq channel error'));
      // The broker closes a channel over one refused publish (a permission, say), and a closed
      // channel publishes nothing more: start again on a fresh connection.
      const reconnectingModel = model;
      confirm.on('close', () => {
        if (publisher === confirm && !closing) void reconnectingModel.close().catch(() => {});
      });
      // RabbitMQ sends the return before the confirm, so the publish below sees it in time.
      confirm.on('return', (message: ConsumeMessage) => {
        const id: unknown = message.properties.messageId;
        if (typeof id === 'string') returned.add(id);
      });
      await declareTopology(confirm, topology, [role]);
      if (consuming) for (const consumer of consumers) await subscribe(model, consumer);
      for (const subscription of eventSubscriptions) await listen(model, subscription);
      connection = model;
      publisher = confirm;
      delay = 500;
      log.info('rabbitmq connected');
      for (const wake of waiters) wake();
      waiters = [];
    } catch (error) {
      log.warn({ err: error }, 'rabbitmq connect failed');
      // Connected but refused a declaration (say, a permission): close it, and its close
      // handler schedules the next try, so no half-set-up connection is left behind.
      if (model) await model.close().catch(() => undefined);
      else schedule();
    }
  };
  const schedule = () => {
    if (closing) return;
    setTimeout(() => void connect(), delay).unref();
    delay = Math.min(delay * 2, MAX_RECONNECT_DELAY_MS);
  };
  void connect();

  const connected = async (): Promise<ConfirmChannel> => {
    if (publisher) return publisher;
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
    if (!publisher) throw new BrokerUnavailableError('RabbitMQ is unavailable');
    return publisher;
  };

  const confirmedPublish = async (
    exchange: string,
    routingKey: string,
    body: unknown,
    extra: Options.Publish = {},
  ) => {
    const channel = await connected();
    const content = Buffer.from(JSON.stringify(body));
    const messageId = extra.mandatory ? randomUUID() : undefined;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new BrokerUnavailableError('RabbitMQ did not confirm in time')),
        publishTimeoutMs,
      );
      channel.publish(
        exchange,
        routingKey,
        content,
        {
          persistent: true,
          contentType: 'application/json',
          ...(messageId === undefined ? {} : { messageId }),
          ...extra,
        },
        (error) => {
          clearTimeout(timer);
          if (error)
            reject(new BrokerUnavailableError(`RabbitMQ refused the message: ${String(error)}`));
          else if (messageId !== undefined && returned.delete(messageId))
            reject(new BrokerUnavailableError(`no queue takes ${routingKey} messages yet`));
          else resolve();
        },
      );
    });
  };

  return {
    topology,
    // Events with a durable queue must reach it: unroutable (its consumer never started on
    // this broker), the publish fails and the caller answers "try again", losing nothing.
    publishEvent: (message) =>
      confirmedPublish(topology.exchange, message.type, message, {
        type: message.type,
        mandatory: QUEUED_EVENTS.has(message.type),
      }),
    sendToQueue: (queue, body, extra) => confirmedPublish('', queue, body, extra),
    consume(queue, prefetch, handler) {
      const consumer: Consumer = { queue, prefetch, handler };
      consumers.push(consumer);
      if (connection && consuming) {
        subscribe(connection, consumer).catch((error: unknown) =>
          log.warn({ err: error, queue }, 'subscribe failed'),
        );
      }
    },
    subscribeEvents(routingKey, handler, onConnected) {
      const subscription: EventSubscription = { routingKey, handler, onConnected };
      eventSubscriptions.push(subscription);
      if (connection) {
        listen(connection, subscription).catch((error: unknown) =>
          log.warn({ err: error, routingKey }, 'event subscription failed'),
        );
      }
    },
    async stopConsuming() {
      consuming = false;
      for (const consumer of consumers) {
        if (consumer.channel && consumer.tag)
          await consumer.channel.cancel(consumer.tag).catch(() => undefined);
      }
    },
    async check() {
      if (!publisher) throw new BrokerUnavailableError('not connected to RabbitMQ');
    },
    async close() {
      closing = true;
      await connection?.close().catch(() => undefined);
    },
  };
}
