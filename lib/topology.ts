import type { Channel } from 'amqplib';

/** Deliveries of one job before RabbitMQ dead-letters it, whatever the worker managed to do. */
export const JOB_DELIVERY_LIMIT = 5;

export interface Topology {
  /** Topic exchange for events, routed by message type. */
  exchange: string;
  queues: {
    /** conversion service ← video.uploaded */
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
  };
}

/**
 * Every exchange and queue REELFLUX uses. `prefix` (AMQP_NAME_PREFIX, empty in production)
 * lets several stacks share one broker without taking each other's messages, as the tests do.
 */
export function topologyNames(prefix = ''): Topology {
  return {
    exchange: `${prefix}reelflux.events`,
    queues: {
      videoUploaded: `${prefix}conversion.video-uploaded`,
      videoDeleted: `${prefix}conversion.video-deleted`,
      jobs: `${prefix}conversion.jobs`,
      jobsRetry: `${prefix}conversion.jobs.retry`,
      jobsDead: `${prefix}conversion.jobs.dead`,
      eventsDead: `${prefix}conversion.events.dead`,
    },
  };
}

/**
 * Declared by every process on every (re)connect. Declarations are idempotent only while
 * their arguments match, so they live here, once.
 */
export async function declareTopology(channel: Channel, names: Topology): Promise<void> {
  const { exchange, queues } = names;
  await channel.assertExchange(exchange, 'topic', { durable: true });

  await channel.assertQueue(queues.eventsDead, { durable: true });
  const toEventsDead = {
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': queues.eventsDead,
  };
  await channel.assertQueue(queues.videoUploaded, { durable: true, arguments: toEventsDead });
  await channel.bindQueue(queues.videoUploaded, exchange, 'video.uploaded');
  await channel.assertQueue(queues.videoDeleted, { durable: true, arguments: toEventsDead });
  await channel.bindQueue(queues.videoDeleted, exchange, 'video.deleted');

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
