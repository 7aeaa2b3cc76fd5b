import { ObjectId } from 'mongodb';
import { Registry } from 'prom-client';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ConversionEngine } from '../lib/conversions/createConversionEngine.js';
import type { ConversionJob, VideoUploaded } from '../lib/contracts/messages.js';
import type { Logger } from '../lib/platform/logger.js';
import { createDispatcher, type Dispatcher } from '../subgraphs/conversion/createDispatcher.js';
import { createIntake, type Intake } from '../subgraphs/conversion/createIntake.js';
import { createSweeper } from '../subgraphs/conversion/createSweeper.js';
import { createEngineOnFakes } from './helpers/createEngineOnFakes.js';
import type { FakeBroker } from './helpers/fakes/createFakeBroker.js';
import type { FakeConversions } from './helpers/fakes/createFakeConversions.js';
import {
  createFakeVideoProjections,
  type FakeVideoProjections,
} from './helpers/fakes/createFakeVideoProjections.js';

/**
 * The conversion service's units (intake, dispatcher, sweeper) over an in-memory broker and
 * store: what they send, in what order, and what they announce. The real database and broker
 * are in conversion.e2e and conversionFaults.e2e.
 */
describe('conversion service units', () => {
  let log: Logger;
  let broker: FakeBroker;
  let store: FakeConversions;
  let videos: FakeVideoProjections;
  let engine: ConversionEngine;
  let registry: Registry;
  let dispatcher: Dispatcher;
  let intake: Intake;

  const setUp = (maxRunningPerUser: number) => {
    ({ broker, store, engine, log } = createEngineOnFakes());
    videos = createFakeVideoProjections();
    registry = new Registry();
    dispatcher = createDispatcher({ engine, videos, maxRunningPerUser, log });
    intake = createIntake({
      engine,
      videos,
      broker,
      dispatchFor: dispatcher.dispatchFor,
      log,
      registry,
    });
  };
  beforeEach(() => setUp(1));

  /** Conversion ids of the jobs sent so far, each as `owner:filename`. */
  const jobsSent = () =>
    broker
      .sentTo(broker.topology.queues.jobs)
      .map((body) => `${(body as ConversionJob).ownerId}:${(body as ConversionJob).filename}`);
  const uploaded = (owner: string, filename: string, videoId = new ObjectId()): VideoUploaded => ({
    type: 'video.uploaded',
    version: 1,
    videoId: videoId.toHexString(),
    ownerId: owner,
    filename,
    bytes: 1000,
    mp3: {},
  });
  /** A conversion of a video `owner` has, queued but not yet dispatched. */
  const waiting = async (owner: string, filename: string) => {
    const video = await videos.remember({ _id: new ObjectId().toHexString(), owner, filename });
    if (video === 'deleted') throw new Error('deleted');
    return engine.create({ id: new ObjectId(), videoId: video._id, owner, filename, options: {} });
  };
  /** The owner's conversion whose job is out, run to SUCCEEDED, freeing a turn. */
  const finish = async (owner: string, filename: string) => {
    const record = [...store.records.values()].find(
      (r) => r.owner === owner && r.filename === filename,
    );
    if (!record) throw new Error(`no ${filename}`);
    await engine.take(record._id, 'run', false, 3);
    await engine.succeed(record._id, 'run', 'audio', () => Promise.resolve());
  };

  it('dispatches fairly: each owner at most maxRunningPerUser jobs out, the oldest first', async () => {
    for (const name of ['a1', 'a2', 'a3']) await waiting('alice', name);
    await waiting('bob', 'b1');
    await dispatcher.tick();
    // Bob's one clip does not wait behind Alice's backlog.
    expect(jobsSent()).toEqual(['alice:a1', 'bob:b1']);
    await dispatcher.tick();
    expect(jobsSent()).toEqual(['alice:a1', 'bob:b1']);
    await finish('alice', 'a1');
    await dispatcher.tick();
    expect(jobsSent()).toEqual(['alice:a1', 'bob:b1', 'alice:a2']);
    await finish('bob', 'b1');
    await dispatcher.tick();
    expect(jobsSent()).toEqual(['alice:a1', 'bob:b1', 'alice:a2']);
  });

  it('sends up to maxRunningPerUser jobs of one owner at once', async () => {
    setUp(2);
    for (const name of ['a1', 'a2', 'a3']) await waiting('alice', name);
    await dispatcher.dispatchFor('alice');
    expect(jobsSent()).toEqual(['alice:a1', 'alice:a2']);
  });

  it('announces QUEUED (confirmed) before the job is sent, and sends none when it cannot', async () => {
    await waiting('alice', 'a1');
    broker.failEvents = new Error('broker away');
    await dispatcher.tick();
    expect(jobsSent()).toEqual([]);
    broker.failEvents = undefined;
    await dispatcher.tick();
    expect(broker.sent.map((s) => (s.kind === 'event' ? s.message.type : s.queue))).toEqual([
      'conversion.updated',
      broker.topology.queues.jobs,
    ]);
  });

  it('makes the upload’s own conversion once, under the video’s id, and dispatches it', async () => {
    const event = uploaded('alice', 'clip.mp4');
    await intake.onUploadEvent(event);
    await intake.onUploadEvent(event);
    expect([...store.records.keys()]).toEqual([event.videoId]);
    expect(jobsSent()).toEqual(['alice:clip.mp4']);
    expect(broker.updates()).toEqual(['QUEUED']);
  });

  it('drops and counts an upload event that names another owner than the video has', async () => {
    const event = uploaded('alice', 'clip.mp4');
    await intake.onUploadEvent(event);
    store.records.clear();
    await intake.onUploadEvent({ ...event, ownerId: 'mallory' });
    expect(store.records.size).toBe(0);
    expect(videos.videos.get(event.videoId)?.owner).toBe('alice');
    const counted = await registry.getSingleMetric('conversion_forged_events_total')?.get();
    expect(counted?.values).toEqual([{ labels: { type: 'video.uploaded' }, value: 1 }]);
  });

  it('respects tombstones: a deleted video’s conversions end, and a later upload event makes none', async () => {
    const event = uploaded('alice', 'clip.mp4');
    await intake.onUploadEvent(event);
    broker.sent.length = 0;
    await intake.onVideoDeleted(event.videoId);
    expect(broker.updates()).toEqual(['CANCELLED']);
    expect(store.records.size).toBe(0);
    await intake.onUploadEvent(event);
    expect(store.records.size).toBe(0);
    expect(jobsSent()).toEqual([]);
  });

  it('sends no job for a conversion whose video was deleted before its turn', async () => {
    const record = await waiting('alice', 'a1');
    await videos.markDeleted(record.videoId);
    await dispatcher.tick();
    expect(jobsSent()).toEqual([]);
    expect(store.records.size).toBe(0);
  });

  it('sweeps: a silent run is reclaimed and its job sent again; a lost job is resent quietly', async () => {
    const staleAfterMs = 1_000;
    const sweeper = createSweeper({ engine, staleAfterMs, log });
    const silent = await waiting('alice', 'silent');
    await dispatcher.tick();
    await engine.take(silent._id, 'frozen-run', false, 3);
    store.records.set(silent._id.toHexString(), {
      ...store.get(silent._id)!,
      heartbeatAt: new Date(Date.now() - 2 * staleAfterMs),
    });
    const lost = await waiting('bob', 'lost');
    await dispatcher.tick();
    store.records.set(lost._id.toHexString(), {
      ...store.get(lost._id)!,
      jobSentAt: new Date(Date.now() - 10 * staleAfterMs),
    });
    broker.sent.length = 0;

    await sweeper.run();
    expect(store.get(silent._id)).toMatchObject({ status: 'QUEUED', runId: null });
    expect(broker.updates()).toEqual(['QUEUED']);
    expect(jobsSent().sort()).toEqual(['alice:silent', 'bob:lost']);
    await sweeper.stop();
  });
});
