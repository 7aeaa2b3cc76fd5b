import type { Channel } from 'amqplib';

/** Deliveries of one job before RabbitMQ dead-letters it, whatever the worker managed to do. */
export const JOB_DELIVERY_LIMIT = 5;

export interface Topology {
  /** Topic exchange for events, routed by message type. */
  exchange: string;
  /**
   * Fanout exchange into `notification.events.dead`: the notification service's queues
   * dead-letter through it rather than the default exchange, which would let the service (it
   * talks to the internet) send into any queue.
   */
  notificationDeadLetters: string;
  queues: {
    /** conversion service ← video.uploading, video.uploaded (one queue: one video's in order) */
    videoUploaded: string;
    /** conversion service ← video.deleted */
    videoDeleted: string;
    /** workers ← jobs (quorum: replicated, and counts deliveries to stop poison loops) */
    jobs: string;
    /** jobs waiting out a retry delay, then dead-lettered back into `jobs` */
    jobsRetry: string;
    /** jobs that failed for good, and malformed ones: for a human (fsck reports them) */
    jobsDead: string;
    /** malformed events from the two event queues */
    eventsDead: string;
    /** notification service ← conversion.finished */
    conversionFinished: string;
    /** notification service ← video.deleted (its pending deliveries stop) */
    notificationVideoDeleted: string;
    /** malformed events from the notification service's queues */
    notificationDead: string;
  };
}

/**
 * Every exchange and queue REELFLUX uses. `prefix` (AMQP_NAME_PREFIX, empty in production)
 * lets several stacks share one broker without taking each other's messages, as the tests do.
 */
export function topologyNames(prefix = ''): Topology {
  return {
    exchange: `${prefix}reelflux.events`,
    notificationDeadLetters: `${prefix}notification.dead-letters`,
    queues: {
      videoUploaded: `${prefix}conversion.video-uploaded`,
      videoDeleted: `${prefix}conversion.video-deleted`,
      jobs: `${prefix}conversion.jobs`,
      jobsRetry: `${prefix}conversion.jobs.retry`,
      jobsDead: `${prefix}conversion.jobs.dead`,
      eventsDead: `${prefix}conversion.events.dead`,
      conversionFinished: `${prefix}notification.conversion-finished`,
      notificationVideoDeleted: `${prefix}notification.video-deleted`,
      notificationDead: `${prefix}notification.events.dead`,
    },
  };
}

/**
 * Events bound to durable queues (the conversion and notification services'): they are
 * published as mandatory, so one that no queue takes yet fails instead of vanishing.
 */
export const QUEUED_EVENTS: ReadonlySet<string> = new Set([
  'video.uploading',
  'video.uploaded',
  'video.deleted',
  'conversion.finished',
]);

/** The processes that talk to RabbitMQ; each declares only its part of the topology. */
export const BROKER_ROLES = ['router', 'media', 'conversion', 'worker', 'notification'] as const;
export type BrokerRole = (typeof BROKER_ROLES)[number];

/** RabbitMQ's three permission patterns for one user in one vhost. */
export interface BrokerPermissions {
  configure: string;
  write: string;
  read: string;
  /** Routing keys it may publish on the events exchange (RabbitMQ's topic permissions). */
  publishes?: string;
}

/** Queue and exchange names are matched whole; AMQP_NAME_PREFIX may hold any character. */
const escape = (name: string) => name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const exactly = (...names: string[]) => `^(${names.map(escape).join('|')})$`;

/**
 * What each process may do, and little more, so a broken-into worker (it runs ffmpeg on
 * untrusted files) can take jobs and report on them, and read or publish nothing else. RabbitMQ asks for
 * `configure` to declare, `write` on the queue and `read` on the exchange to bind, `write` on
 * the exchange to publish (`amq.default` for direct-to-queue sends, which it cannot narrow to
 * one queue), `read` to consume, and also `read` on a queue to declare it with a dead-letter
 * exchange: so whoever declares the event or job queues may read them. The router's event
 * feeds are private queues named `<exchange>.<routing key>.<host>.<id>`. Kept beside
 * `declareTopology`, so a new queue is declared and permitted in one change;
 * tests/brokerPermissions.int.test.ts checks both against a real broker.
 */
export function brokerPermissions(names: Topology): Record<BrokerRole, BrokerPermissions> {
  const { exchange, queues, notificationDeadLetters: deadLetters } = names;
  const events = [queues.videoUploaded, queues.videoDeleted];
  const jobs = [queues.jobs, queues.jobsRetry];
  const notices = [queues.conversionFinished, queues.notificationVideoDeleted];
  const feeds = `^${escape(exchange)}\\..+$`;
  const exchangeAndFeeds = `^${escape(exchange)}(\\..+)?$`;
  return {
    router: { configure: exchangeAndFeeds, write: feeds, read: exchangeAndFeeds },
    media: {
      configure: exactly(exchange),
      write: exactly(exchange),
      read: '^$',
      publishes: exactly('video.uploading', 'video.uploaded', 'video.deleted'),
    },
    // It also declares the notification service's queue of final states, which it publishes
    // into as mandatory (see declareTopology); so it may read that queue, as RabbitMQ asks.
    conversion: {
      configure: exactly(
        exchange,
        queues.eventsDead,
        ...events,
        queues.jobsDead,
        ...jobs,
        queues.notificationDead,
        queues.conversionFinished,
        deadLetters,
      ),
      write: exactly(
        exchange,
        'amq.default',
        ...events,
        queues.conversionFinished,
        queues.notificationDead,
        deadLetters,
      ),
      read: exactly(exchange, ...events, ...jobs, queues.conversionFinished, deadLetters),
      publishes: exactly('conversion.updated', 'conversion.finished'),
    },
    // Its jobs' states and progress go out as conversion.updated, to the routers' feeds.
    worker: {
      configure: exactly(exchange, queues.jobsDead, ...jobs),
      write: exactly(exchange, 'amq.default'),
      read: exactly(...jobs),
      publishes: exactly('conversion.updated', 'conversion.finished'),
    },
    notification: {
      configure: exactly(exchange, deadLetters, queues.notificationDead, ...notices),
      write: exactly(deadLetters, queues.notificationDead, ...notices),
      read: exactly(exchange, deadLetters, ...notices),
      publishes: '^$',
    },
  };
}

/**
 * Declared on every (re)connect, each process its part: the exchange by whoever publishes or
 * listens to it, the event queues by the conversion service (media publishes into them as
 * mandatory, see QUEUED_EVENTS), the queue of final states by the conversion service too (it
 * and the workers publish into it as mandatory) and by the notification service, which also
 * declares its own video.deleted queue, the job queues by the conversion service and the workers. Declarations are idempotent only while their arguments match, so they live here,
 * once. Without `roles`, everything (tests and fsck).
 */
export async function declareTopology(
  channel: Channel,
  names: Topology,
  roles: readonly BrokerRole[] = BROKER_ROLES,
): Promise<void> {
  const { exchange, queues } = names;
  const any = (...wanted: BrokerRole[]) => wanted.some((role) => roles.includes(role));

  if (any('router', 'media', 'conversion', 'worker', 'notification')) {
    await channel.assertExchange(exchange, 'topic', { durable: true });
  }
  if (any('conversion')) {
    await channel.assertQueue(queues.eventsDead, { durable: true });
    const toEventsDead = {
      'x-dead-letter-exchange': '',
      'x-dead-letter-routing-key': queues.eventsDead,
    };
    await channel.assertQueue(queues.videoUploaded, { durable: true, arguments: toEventsDead });
    await channel.bindQueue(queues.videoUploaded, exchange, 'video.uploading');
    await channel.bindQueue(queues.videoUploaded, exchange, 'video.uploaded');
    await channel.assertQueue(queues.videoDeleted, { durable: true, arguments: toEventsDead });
    await channel.bindQueue(queues.videoDeleted, exchange, 'video.deleted');
  }
  if (any('conversion', 'notification')) {
    await channel.assertExchange(names.notificationDeadLetters, 'fanout', { durable: true });
    await channel.assertQueue(queues.notificationDead, { durable: true });
    await channel.bindQueue(queues.notificationDead, names.notificationDeadLetters, '');
    const toNotificationDead = { 'x-dead-letter-exchange': names.notificationDeadLetters };
    await channel.assertQueue(queues.conversionFinished, {
      durable: true,
      arguments: toNotificationDead,
    });
    await channel.bindQueue(queues.conversionFinished, exchange, 'conversion.finished');
    if (any('notification')) {
      await channel.assertQueue(queues.notificationVideoDeleted, {
        durable: true,
        arguments: toNotificationDead,
      });
      await channel.bindQueue(queues.notificationVideoDeleted, exchange, 'video.deleted');
    }
  }
  if (any('conversion', 'worker')) {
    await channel.assertQueue(queues.jobsDead, { durable: true });
    await channel.assertQueue(queues.jobs, {
      durable: true,
      arguments: {
        'x-queue-type': 'quorum',
        'x-delivery-limit': JOB_DELIVERY_LIMIT,
        'x-dead-letter-exchange': '',
        'x-dead-letter-routing-key': queues.jobsDead,
      },
    });
    // Per-message expiry (the retry delay) needs a classic queue.
    await channel.assertQueue(queues.jobsRetry, {
      durable: true,
      arguments: { 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': queues.jobs },
    });
  }
}
