import { EventEmitter } from 'node:events';
import type { ChannelModel } from 'amqplib';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BrokerUnavailableError, createBroker, type Broker } from '../lib/broker/createBroker.js';
import { createLogger } from '../lib/platform/logger.js';
import type { EventMessage } from '../lib/contracts/messages.js';

/**
 * The broker's reconnect logic against a fake amqplib, with fake timers: what it declares,
 * when it tries again, and what publishers see meanwhile. The real RabbitMQ is in
 * brokerPermissions.int and the fault suites, which cut it for real.
 */
class FakeChannel extends EventEmitter {
  declared: string[] = [];
  consumed: string[] = [];
  published: { exchange: string; key: string; mandatory: boolean }[] = [];
  refuse: string | undefined;
  /** Whether a publish comes back unroutable (a mandatory one is returned first). */
  unroutable = false;

  constructor(readonly model: FakeModel) {
    super();
  }
  private declare(what: string) {
    if (this.refuse === what) return Promise.reject(new Error(`403 ACCESS_REFUSED ${what}`));
    this.declared.push(what);
    return Promise.resolve({});
  }
  assertExchange = (name: string) => this.declare(`exchange ${name}`);
  assertQueue = (name: string) => this.declare(`queue ${name}`);
  bindQueue = (queue: string) => this.declare(`bind ${queue}`);
  prefetch = () => Promise.resolve();
  /** Each consumer's callback, by queue: RabbitMQ's cancel is a call with null. */
  deliver = new Map<string, (message: null) => void>();
  consume = (queue: string, onMessage: (message: null) => void) => {
    this.consumed.push(queue);
    this.deliver.set(queue, onMessage);
    return Promise.resolve({ consumerTag: `tag-${queue}` });
  };
  cancel = () => Promise.resolve();
  publish = (
    exchange: string,
    key: string,
    _content: Buffer,
    options: { mandatory?: boolean; messageId?: string },
    confirmed: (error: unknown) => void,
  ) => {
    this.published.push({ exchange, key, mandatory: options.mandatory === true });
    queueMicrotask(() => {
      if (this.unroutable && options.mandatory)
        this.emit('return', { properties: { messageId: options.messageId } });
      confirmed(null);
    });
    return true;
  };
}

class FakeModel extends EventEmitter {
  channels: FakeChannel[] = [];
  closed = false;
  refuse: string | undefined;
  unroutable = false;
  private open() {
    const channel = new FakeChannel(this);
    channel.refuse = this.refuse;
    channel.unroutable = this.unroutable;
    this.channels.push(channel);
    return Promise.resolve(channel);
  }
  createConfirmChannel = () => this.open();
  createChannel = () => this.open();
  close = () => {
    if (!this.closed) {
      this.closed = true;
      this.emit('close');
    }
    return Promise.resolve();
  };
  /** The broker went away. */
  lose() {
    this.closed = true;
    this.emit('close');
  }
  get declared() {
    return this.channels.flatMap((c) => c.declared);
  }
  get consumed() {
    return this.channels.flatMap((c) => c.consumed);
  }
}

const event: EventMessage = { type: 'video.deleted', version: 1, videoId: 'v', ownerId: 'o' };

describe('createBroker: staying connected (fake amqplib)', () => {
  let models: FakeModel[];
  let attempts: number[];
  /** What the next connection attempt does: a model, or a refusal. */
  let next: () => FakeModel | Error;
  let broker: Broker | undefined;

  const start = (role: 'worker' | 'media' | 'router' | 'conversion', publishTimeoutMs = 5_000) =>
    (broker = createBroker(
      { amqpUrl: 'amqp://fake', amqpNamePrefix: '' },
      role,
      createLogger('test', 'silent'),
      {
        publishTimeoutMs,
        connect: () => {
          attempts.push(Date.now());
          const outcome = next();
          if (outcome instanceof Error) return Promise.reject(outcome);
          models.push(outcome);
          return Promise.resolve(outcome as unknown as ChannelModel);
        },
      },
    ));
  const settle = () => vi.advanceTimersByTimeAsync(0);

  beforeEach(() => {
    vi.useFakeTimers();
    models = [];
    attempts = [];
    next = () => new FakeModel();
  });
  afterEach(async () => {
    await broker?.close();
    broker = undefined;
    vi.useRealTimers();
  });

  it("declares the role's part of the topology and subscribes its consumers", async () => {
    const worker = start('worker');
    worker.consume('conversion.jobs', 2, () => Promise.resolve());
    await settle();
    await expect(worker.check()).resolves.toBeUndefined();
    expect(models[0]?.declared).toEqual([
      'exchange reelflux.events',
      'queue conversion.jobs.dead',
      'queue conversion.jobs',
      'queue conversion.jobs.retry',
    ]);
    expect(models[0]?.consumed).toEqual(['conversion.jobs']);
  });

  it('tries again after 0.5 s, doubling to 2 s, then declares and resubscribes everything', async () => {
    const worker = start('worker');
    worker.consume('conversion.jobs', 2, () => Promise.resolve());
    await settle();
    const down = new Error('ECONNREFUSED');
    next = () => down;
    models[0]?.lose();
    await expect(worker.check()).rejects.toThrow(BrokerUnavailableError);
    await vi.advanceTimersByTimeAsync(20_000);
    const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] ?? 0));
    expect(gaps.slice(0, 6)).toEqual([500, 1000, 2000, 2000, 2000, 2000]);

    next = () => new FakeModel();
    await vi.advanceTimersByTimeAsync(2_000);
    await expect(worker.check()).resolves.toBeUndefined();
    expect(models[1]?.declared).toHaveLength(4);
    expect(models[1]?.consumed).toEqual(['conversion.jobs']);
    // Connected again, the next loss is retried after 0.5 s once more.
    const before = attempts.length;
    models[1]?.lose();
    await vi.advanceTimersByTimeAsync(499);
    expect(attempts).toHaveLength(before);
    await vi.advanceTimersByTimeAsync(1);
    expect(attempts).toHaveLength(before + 1);
  });

  it('holds a publish made while disconnected until the broker is back, within its timeout', async () => {
    const media = start('media', 3_000);
    await settle();
    next = () => new Error('ECONNREFUSED');
    models[0]?.lose();
    const published = media.publishEvent(event);
    next = () => new FakeModel();
    await vi.advanceTimersByTimeAsync(500);
    await expect(published).resolves.toBeUndefined();
    expect(models[1]?.channels[0]?.published).toEqual([
      { exchange: 'reelflux.events', key: 'video.deleted', mandatory: true },
    ]);
  });

  it('fails a publish with BrokerUnavailableError when the broker stays away', async () => {
    const media = start('media', 3_000);
    await settle();
    next = () => new Error('ECONNREFUSED');
    models[0]?.lose();
    const published = media.publishEvent(event);
    const outcome = expect(published).rejects.toThrow(BrokerUnavailableError);
    await vi.advanceTimersByTimeAsync(3_000);
    await outcome;
  });

  it('fails, rather than drops, an upload or delete event no queue takes yet', async () => {
    next = () => Object.assign(new FakeModel(), { unroutable: true });
    const media = start('media');
    await settle();
    await expect(media.publishEvent(event)).rejects.toThrow(/no queue takes video.deleted/);
    // A live-feed event may go nowhere: nobody is subscribed.
    await expect(
      media.publishEvent({
        type: 'conversion.updated',
        version: 1,
        conversionId: 'c',
        videoId: 'v',
        ownerId: 'o',
        status: 'QUEUED',
        progress: null,
      }),
    ).resolves.toBeUndefined();
  });

  it('starts again on a new connection when the broker closes the publishing channel', async () => {
    const worker = start('worker');
    await settle();
    // A refused publish: the broker closes the channel (amqplib emits error, then close).
    models[0]?.channels[0]?.emit('close');
    await settle();
    expect(models[0]?.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    await expect(worker.check()).resolves.toBeUndefined();
    expect(models).toHaveLength(2);
  });

  it('starts again on a new connection when RabbitMQ cancels a consumer (its queue is gone)', async () => {
    const conversion = start('conversion');
    conversion.consume('conversion.video-uploaded', 1, () => Promise.resolve());
    await settle();
    const first = models[0];
    const cancel = first?.channels.find((c) => c.deliver.has('conversion.video-uploaded'));
    cancel?.deliver.get('conversion.video-uploaded')?.(null);
    await settle();
    expect(first?.closed).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(models).toHaveLength(2);
    expect(models[1]?.declared).toContain('queue conversion.video-uploaded');
    expect(models[1]?.consumed).toContain('conversion.video-uploaded');
  });

  it('closes a connection whose declaration is refused before it tries again', async () => {
    next = () => Object.assign(new FakeModel(), { refuse: 'queue conversion.jobs' });
    const worker = start('worker');
    await vi.advanceTimersByTimeAsync(1_600);
    expect(models.length).toBeGreaterThanOrEqual(3);
    expect(models.slice(0, -1).every((model) => model.closed)).toBe(true);
    await expect(worker.check()).rejects.toThrow(BrokerUnavailableError);
  });
});
