import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import amqp, { type ConfirmChannel } from 'amqplib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createBroker, type Broker } from '../lib/broker/createBroker.js';
import { createLogger } from '../lib/platform/logger.js';
import type { ConversionFinished, ConversionJob, EventMessage } from '../lib/contracts/messages.js';
import {
  BROKER_ROLES,
  brokerPermissions,
  topologyNames,
  type BrokerRole,
} from '../lib/broker/topology.js';
import { brokerDefinitions, type BrokerUser } from '../scripts/ensureDeployKeys.js';
import { uniqueName } from './helpers/uniqueName.js';

/**
 * The broker users compose and Kubernetes create (scripts/ensureDeployKeys.ts), imported into
 * the real RabbitMQ in a vhost of their own with the production queue names: each process
 * declares its part of the topology and does its traffic, and is refused the rest.
 * Importing definitions needs `rabbitmqctl`, so this runs beside the broker on 127.0.0.1.
 */
describe('broker users: each process gets only the permissions it needs (real RabbitMQ)', () => {
  const infra = inject('infra');
  const id = uniqueName('perm').replace('_', '-');
  const vhost = `reelflux-${id}`;
  const names = topologyNames();
  const permissions = brokerPermissions(names);
  const users = BROKER_ROLES.map((role): BrokerUser => ({
    name: `${id}-${role}`,
    password: randomBytes(12).toString('hex'),
    permissions: permissions[role],
  }));
  const broker = new URL(infra.amqpUrl);
  const urlOf = (role: BrokerRole) => {
    const user = users[BROKER_ROLES.indexOf(role)];
    if (!user) throw new Error(role);
    return `amqp://${user.name}:${user.password}@${broker.host}/${encodeURIComponent(vhost)}`;
  };
  const log = createLogger('test', 'silent');
  const brokers = new Map<BrokerRole, Broker>();
  const rabbitmqctl = (args: string[]) =>
    execFileSync('rabbitmqctl', ['--quiet', ...args], { encoding: 'utf8' });

  beforeAll(async () => {
    // Readable by all: rabbitmqctl runs as the broker's own user. It holds hashes, no passwords.
    const dir = mkdtempSync(join(tmpdir(), 'reelflux-definitions-'));
    const file = join(dir, 'definitions.json');
    writeFileSync(file, JSON.stringify(brokerDefinitions(vhost, names.exchange, users)), {
      mode: 0o644,
    });
    chmodSync(dir, 0o755);
    try {
      rabbitmqctl(['import_definitions', file]);
    } finally {
      rmSync(dir, { recursive: true });
    }
    // The conversion service last: whoever starts first must find or make what it uses.
    for (const role of ['worker', 'router', 'media'] as const) await start(role);
  }, 60_000);

  const start = async (role: BrokerRole) => {
    const started = createBroker({ amqpUrl: urlOf(role), amqpNamePrefix: '' }, role, log);
    brokers.set(role, started);
    await until(() => started.check());
  };

  afterAll(async () => {
    for (const started of brokers.values()) await started.close();
    for (const user of users) rabbitmqctl(['delete_user', user.name]);
    rabbitmqctl(['delete_vhost', vhost]);
  });

  const get = (role: BrokerRole) => {
    const started = brokers.get(role);
    if (!started) throw new Error(`${role} did not start`);
    return started;
  };

  it('fails an upload event, rather than drop it, until the conversion service has its queue', async () => {
    await expect(get('media').publishEvent(uploadEvent)).rejects.toThrow(
      /no queue takes video.uploaded/,
    );
    await start('conversion');
  });

  it('carries an upload event to the conversion service and the router, and a job to a worker', async () => {
    const routerSaw: string[] = [];
    await new Promise<void>((resolve) =>
      get('router').subscribeEvents(
        '#',
        (content) => routerSaw.push((JSON.parse(content.toString()) as EventMessage).type),
        resolve,
      ),
    );
    const uploaded = received(get('conversion'), names.queues.videoUploaded);
    const jobs = received(get('worker'), names.queues.jobs);

    await get('media').publishEvent(uploadEvent);
    expect(JSON.parse((await uploaded).toString())).toMatchObject({ type: 'video.uploaded' });

    const job: ConversionJob = {
      type: 'conversion.job',
      version: 1,
      conversionId: 'c'.repeat(24),
      videoId: 'a'.repeat(24),
      ownerId: 'b'.repeat(24),
      filename: 'clip.mp4',
      options: { bitrateKbps: 192 },
    };
    await get('conversion').sendToQueue(names.queues.jobs, job);
    expect(JSON.parse((await jobs).toString())).toMatchObject({ type: 'conversion.job' });
    // A retry goes through the retry queue, a job that failed for good to the dead letters.
    await get('worker').sendToQueue(names.queues.jobsRetry, job, { expiration: '60000' });
    await get('worker').sendToQueue(names.queues.jobsDead, job);

    await get('conversion').publishEvent({
      type: 'conversion.updated',
      version: 1,
      conversionId: job.conversionId,
      videoId: job.videoId,
      ownerId: job.ownerId,
      status: 'QUEUED',
      progress: null,
    });
    // A worker reports its job's progress the same way.
    await get('worker').publishEvent({
      type: 'conversion.updated',
      version: 1,
      conversionId: job.conversionId,
      videoId: job.videoId,
      ownerId: job.ownerId,
      status: 'RUNNING',
      progress: 0.5,
    });
    await until(async () => {
      if (routerSaw.length < 3) throw new Error('not yet');
    });
    expect(routerSaw).toEqual(['video.uploaded', 'conversion.updated', 'conversion.updated']);
  });

  it('carries final states from the conversion service and a worker, and deletions, to the notification service', async () => {
    await start('notification');
    const finished = receivedAll(get('notification'), names.queues.conversionFinished, 2);
    const deleted = received(get('notification'), names.queues.notificationVideoDeleted);
    await get('conversion').publishEvent(finishedEvent);
    await get('worker').publishEvent({
      ...finishedEvent,
      status: 'FAILED',
      errorCode: 'NO_AUDIO_STREAM',
      audioId: null,
    });
    await get('media').publishEvent({
      type: 'video.deleted',
      version: 1,
      videoId: finishedEvent.videoId,
      ownerId: finishedEvent.ownerId,
    });
    const states = (await finished).map(
      (content) => (JSON.parse(content.toString()) as ConversionFinished).status,
    );
    expect(states).toEqual(['SUCCEEDED', 'FAILED']);
    expect(JSON.parse((await deleted).toString())).toMatchObject({ type: 'video.deleted' });
  });

  it.each([
    ['worker', 'publishes a delete event', publish(names.exchange, 'video.deleted')],
    ['media', 'publishes a conversion update', publish(names.exchange, 'conversion.updated')],
    ['worker', 'reads upload events', consume(names.queues.videoUploaded)],
    ['worker', 'reads the dead jobs', consume(names.queues.jobsDead)],
    ['worker', 'declares a queue of its own', (c) => c.assertQueue('anything')],
    ['media', 'reads jobs', consume(names.queues.jobs)],
    ['media', 'reads upload events', consume(names.queues.videoUploaded)],
    ['media', 'declares a queue', (c) => c.assertQueue(names.queues.videoUploaded)],
    ['media', 'sends a job', publish('', names.queues.jobs)],
    ['router', 'publishes an event', publish(names.exchange, 'video.deleted')],
    ['router', 'reads jobs', consume(names.queues.jobs)],
    ['router', 'declares a queue of its own name', (c) => c.assertQueue('anything')],
    ['conversion', 'reads the dead jobs', consume(names.queues.jobsDead)],
    ['conversion', 'reads the dead events', consume(names.queues.eventsDead)],
    ['conversion', 'binds jobs to the events exchange', bind(names.queues.jobs)],
    ['notification', 'publishes an event', publish(names.exchange, 'conversion.finished')],
    ['notification', 'sends a job', publish('', names.queues.jobs)],
    ['notification', 'reads jobs', consume(names.queues.jobs)],
    ['notification', 'reads upload events', consume(names.queues.videoUploaded)],
    ['notification', 'reads its dead letters', consume(names.queues.notificationDead)],
    ['notification', 'declares a queue of its own', (c) => c.assertQueue('anything')],
  ] satisfies [BrokerRole, string, Attempt][])(
    '%s is refused when it %s',
    async (role, _what, attempt) => {
      const connection = await amqp.connect(urlOf(role));
      try {
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => undefined); // the refusal also rejects the attempt
        await expect(attempt(channel)).rejects.toThrow(/ACCESS.REFUSED/);
      } finally {
        await connection.close();
      }
    },
  );
});

const uploadEvent: EventMessage = {
  type: 'video.uploaded',
  version: 1,
  videoId: 'a'.repeat(24),
  ownerId: 'b'.repeat(24),
  filename: 'clip.mp4',
  bytes: 1,
  mp3: { bitrateKbps: 192 },
};

const finishedEvent: ConversionFinished = {
  type: 'conversion.finished',
  version: 1,
  conversionId: 'c'.repeat(24),
  videoId: 'a'.repeat(24),
  ownerId: 'b'.repeat(24),
  status: 'SUCCEEDED',
  filename: 'clip.mp4',
  errorCode: null,
  audioId: 'd'.repeat(24),
  finishedAt: new Date(0).toISOString(),
};

type Attempt = (channel: ConfirmChannel) => Promise<unknown>;

function publish(exchange: string, routingKey: string): Attempt {
  return (channel) =>
    new Promise<void>((resolve, reject) => {
      channel.publish(exchange, routingKey, Buffer.from('{}'), {}, (error) =>
        error ? reject(error as Error) : resolve(),
      );
      // A refused publish closes the channel (with the reason as an error) instead of a nack.
      channel.once('error', (error: Error) => reject(error));
    });
}

function consume(queue: string): Attempt {
  return (channel) => channel.consume(queue, () => undefined);
}

function bind(queue: string): Attempt {
  return (channel) => channel.bindQueue(queue, topologyNames().exchange, '#');
}

/** The first message `broker` gets on `queue`, acknowledged. */
function received(broker: Broker, queue: string): Promise<Buffer> {
  return receivedAll(broker, queue, 1).then(([content]) => content ?? Buffer.alloc(0));
}

/** The first `count` messages `broker` gets on `queue`, in order, acknowledged. */
function receivedAll(broker: Broker, queue: string, count: number): Promise<Buffer[]> {
  const contents: Buffer[] = [];
  return new Promise((resolve) =>
    broker.consume(queue, 1, async (message, channel) => {
      channel.ack(message);
      contents.push(message.content);
      if (contents.length === count) resolve(contents);
    }),
  );
}

async function until(check: () => Promise<void>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
