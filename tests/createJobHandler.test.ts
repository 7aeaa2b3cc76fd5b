import type { Channel, ConsumeMessage } from 'amqplib';
import { ObjectId, type Db } from 'mongodb';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import type {
  ConversionEngine,
  ConversionRecord,
} from '../lib/conversions/createConversionEngine.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import type { ConversionJob } from '../lib/contracts/messages.js';
import type { StorageQuota } from '../lib/stores/storageQuota.js';
import { BadInputError } from '../worker/BadInputError.js';
import type { WorkerConfig } from '../worker/config.js';
import { convertVideo } from '../worker/convertVideo.js';
import { createJobHandler, type JobHandler } from '../worker/createJobHandler.js';
import { FfmpegAbortedError } from '../worker/runFfmpeg.js';
import { UploadStalledError } from '../worker/UploadStalledError.js';
import { createEngineOnFakes } from './helpers/createEngineOnFakes.js';
import type { FakeBroker } from './helpers/fakes/createFakeBroker.js';
import type { FakeConversions } from './helpers/fakes/createFakeConversions.js';

// ffmpeg and GridFS are the worker's real-services suites' (conversion.e2e, followUpload.int);
// here each test says what the conversion does, and the handler's part is what is checked.
vi.mock('../worker/convertVideo.js', () => ({ convertVideo: vi.fn() }));
vi.mock('../lib/stores/audioFiles.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/stores/audioFiles.js')>()),
  removeMp3sOf: vi.fn(() => Promise.resolve()),
}));
vi.mock('../lib/stores/followUpload.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../lib/stores/followUpload.js')>()),
  videoUploadState: vi.fn(() => Promise.resolve({ kind: 'streaming' })),
}));
const converting = vi.mocked(convertVideo);

/** Waits until the run aborts, then stops as ffmpeg does: with the abort's reason. */
const untilAborted = (signal: AbortSignal) =>
  new Promise<never>((_, reject) =>
    signal.addEventListener('abort', () => reject(new FfmpegAbortedError(signal.reason))),
  );

describe('createJobHandler: a job from delivery to its next state', () => {
  const config = {
    maxAttempts: 3,
    retryBaseMs: 2_000,
    jobTimeoutMs: 60_000,
    uploadTimeoutMs: 60_000,
  } as WorkerConfig;
  let broker: FakeBroker;
  let store: FakeConversions;
  let engine: ConversionEngine;
  let handler: JobHandler;
  let record: ConversionRecord;
  let sentJob: ConversionJob | undefined;
  const channel = { ack: vi.fn(), nack: vi.fn() };

  beforeEach(async () => {
    converting.mockReset();
    channel.ack.mockReset();
    channel.nack.mockReset();
    const fakes = createEngineOnFakes();
    ({ broker, store, engine } = fakes);
    handler = createJobHandler({
      config,
      engine,
      mediaDb: {} as Db,
      quota: {} as StorageQuota,
      log: fakes.log,
    });
    record = await engine.dispatch(
      await engine.create({
        id: new ObjectId(),
        videoId: new ObjectId().toHexString(),
        owner: new ObjectId().toHexString(),
        filename: 'clip.mp4',
        options: {},
      }),
    );
    [sentJob] = broker.sentTo(broker.topology.queues.jobs) as ConversionJob[];
    broker.sent.length = 0;
  });

  /** The job the engine sent when it dispatched the conversion. */
  const job = (): ConversionJob => {
    if (!sentJob) throw new Error('no job was sent');
    return sentJob;
  };
  const deliver = () =>
    handler.handle(
      {
        content: Buffer.from(JSON.stringify(job())),
        fields: { redelivered: false },
      } as ConsumeMessage,
      channel as unknown as Channel,
    );
  const now = () => store.get(record._id);
  const queue = (name: keyof FakeBroker['topology']['queues']) =>
    broker.sentTo(broker.topology.queues[name]);

  it('succeeds: progress announced once saved, then SUCCEEDED, then the ack', async () => {
    converting.mockImplementation(async (_deps, _record, _run, onProgress) => {
      onProgress(0.5);
      await new Promise((resolve) => setTimeout(resolve, 700));
      return { audioId: new ObjectId(), path: 'stored', reason: 'test', stages: {} };
    });
    await deliver();
    expect(now()).toMatchObject({ status: 'SUCCEEDED', progress: 1 });
    expect(broker.updates()).toEqual(['RUNNING 0', 'RUNNING 0.5', 'SUCCEEDED']);
    expect(channel.ack).toHaveBeenCalledOnce();
  });

  it('retries a transient fault: QUEUED with RETRYING, the job through the retry queue after its delay', async () => {
    converting.mockRejectedValue(new Error('disk hiccup'));
    await deliver();
    expect(now()).toMatchObject({
      status: 'QUEUED',
      attempts: 1,
      error: { code: ConversionErrorCode.RETRYING, message: 'disk hiccup' },
    });
    const [retried] = broker.sent.filter((s) => s.kind === 'queue');
    expect(retried).toMatchObject({ queue: broker.topology.queues.jobsRetry, body: job() });
    const delay = Number(retried?.kind === 'queue' ? retried.options?.expiration : NaN);
    expect(delay).toBeGreaterThanOrEqual(1_000);
    expect(delay).toBeLessThanOrEqual(2_000);
    expect(queue('jobsDead')).toEqual([]);
    expect(broker.updates()).toEqual(['RUNNING 0', 'QUEUED']);
    expect(channel.ack).toHaveBeenCalledOnce();
  });

  it('gives up on the last attempt: FAILED RETRIES_EXHAUSTED, the job dead-lettered', async () => {
    store.records.set(record._id.toHexString(), { ...now()!, attempts: config.maxAttempts - 1 });
    converting.mockRejectedValue(new Error('disk hiccup'));
    await deliver();
    expect(now()).toMatchObject({
      status: 'FAILED',
      error: { code: ConversionErrorCode.RETRIES_EXHAUSTED },
    });
    expect(queue('jobsDead')).toEqual([job()]);
    expect(queue('jobsRetry')).toEqual([]);
    expect(broker.updates()).toEqual(['RUNNING 0', 'FAILED']);
  });

  it('fails bad input at once, never retried', async () => {
    converting.mockRejectedValue(new BadInputError(ConversionErrorCode.NO_AUDIO_STREAM, 'silent'));
    await deliver();
    expect(now()).toMatchObject({
      status: 'FAILED',
      error: { code: ConversionErrorCode.NO_AUDIO_STREAM },
    });
    expect(queue('jobsRetry')).toEqual([]);
    expect(queue('jobsDead')).toEqual([]);
    expect(broker.updates()).toEqual(['RUNNING 0', 'FAILED']);
  });

  it('hands the job back on shutdown, giving its attempt back, and leaves the delivery unacked', async () => {
    converting.mockImplementation((_deps, _record, run) => untilAborted(run.signal));
    const handled = deliver();
    await vi.waitFor(() => expect(handler.inFlight()).toBe(1));
    handler.abortAll();
    await expect(handled).rejects.toBeInstanceOf(FfmpegAbortedError);
    expect(now()).toMatchObject({ status: 'QUEUED', attempts: 0, runId: null });
    expect(broker.updates()).toEqual(['RUNNING 0', 'QUEUED']);
    expect(channel.ack).not.toHaveBeenCalled();
  });

  it('parks a job whose upload stalled until the upload ends, its attempt given back', async () => {
    converting.mockRejectedValue(new UploadStalledError(5_000));
    await deliver();
    expect(now()).toMatchObject({
      status: 'QUEUED',
      attempts: 0,
      jobSentAt: null,
      awaitingUpload: true,
    });
    expect(queue('jobsRetry')).toEqual([]);
    expect(broker.updates()).toEqual(['RUNNING 0', 'QUEUED']);
    expect(channel.ack).toHaveBeenCalledOnce();
  });

  it('drops the run when its conversion is cancelled while it runs', async () => {
    converting.mockImplementation((_deps, _record, run) => untilAborted(run.signal));
    const handled = deliver();
    await vi.waitFor(() => expect(now()?.status).toBe('RUNNING'));
    await engine.cancel(record._id);
    // The next heartbeat (within 0.5 s) finds the run no longer owns it and stops ffmpeg.
    await handled;
    expect(now()?.status).toBe('CANCELLED');
    expect(broker.updates()).toEqual(['RUNNING 0', 'CANCELLED']);
    expect(queue('jobsRetry')).toEqual([]);
    expect(queue('jobsDead')).toEqual([]);
    expect(channel.ack).toHaveBeenCalledOnce();
  });
});
