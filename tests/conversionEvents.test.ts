import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ObjectId } from 'mongodb';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ConversionEngine } from '../lib/conversions/createConversionEngine.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import type { ConversionJob } from '../lib/contracts/messages.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { createEngineOnFakes } from './helpers/createEngineOnFakes.js';
import type { FakeBroker } from './helpers/fakes/createFakeBroker.js';
import type { FakeConversions } from './helpers/fakes/createFakeConversions.js';

const ENGINE = 'lib/conversions/createConversionEngine.ts';
/** Where the event's name may be spelled besides the engine: its contract, its permissions, its consumer. */
const MAY_NAME_THE_EVENT = [
  'lib/contracts/messages.ts',
  'lib/broker/topology.ts',
  'router/createConversionEvents.ts',
];

/**
 * What in `text` builds or publishes a `conversion.updated` event: the event's name as a string
 * (outside the files that must name it), or a call of a `conversionUpdated(…)` function (a
 * GraphQL field of that name takes `name: value` arguments, or `…` in prose: not calls).
 */
function publishesConversionUpdated(file: string, text: string): string[] {
  const found: string[] = [];
  if (!MAY_NAME_THE_EVENT.includes(file) && /['"`]conversion\.updated['"`]/.test(text)) {
    found.push(`${file}: names 'conversion.updated'`);
  }
  if (/\bconversionUpdated\((?!\s*\w+\s*:)\s*[\w{)]/.test(text)) {
    found.push(`${file}: calls conversionUpdated()`);
  }
  return found;
}

function sources(): string[] {
  return ['lib', 'subgraphs', 'worker', 'router', 'scripts'].flatMap((folder) =>
    readdirSync(fromRoot(folder), { withFileTypes: true, recursive: true })
      .filter((entry) => entry.isFile() && /\.(ts|mjs)$/.test(entry.name))
      .map((entry) => relative(fromRoot(), join(entry.parentPath, entry.name))),
  );
}

describe('conversion.updated has one publisher, the conversion engine', () => {
  it('is built and published nowhere else in lib, subgraphs, worker, router or scripts', () => {
    const files = sources();
    expect(files).toContain(ENGINE);
    expect(files.length).toBeGreaterThan(100);
    const found = files
      .filter((file) => file !== ENGINE)
      .flatMap((file) => publishesConversionUpdated(file, readFileSync(fromRoot(file), 'utf8')));
    expect(found).toEqual([]);
  });

  it('finds a second publisher when there is one, and not a GraphQL field of the same name', () => {
    const forged = `broker.publishEvent({ type: 'conversion.updated', version: 1 })`;
    expect(publishesConversionUpdated('worker/x.ts', forged)).toHaveLength(1);
    expect(
      publishesConversionUpdated('worker/x.ts', 'publishEvent(conversionUpdated(r))'),
    ).toHaveLength(1);
    expect(
      publishesConversionUpdated(
        'router/x.ts',
        '`subscription { conversionUpdated(id: $id) { id } }` or conversionUpdated(…)',
      ),
    ).toEqual([]);
  });
});

describe('createConversionEngine: each transition publishes exactly its event', () => {
  let broker: FakeBroker;
  let store: FakeConversions;
  let engine: ConversionEngine;
  const jobs = () => broker.sentTo(broker.topology.queues.jobs);

  beforeEach(() => {
    ({ broker, store, engine } = createEngineOnFakes());
  });

  const queued = () =>
    engine.create({
      id: new ObjectId(),
      videoId: new ObjectId().toHexString(),
      owner: 'alice',
      filename: 'clip.mp4',
      options: {},
    });
  /** A conversion dispatched and taken by `runId`, the events so far forgotten. */
  const running = async (runId = 'run-1') => {
    const record = await engine.dispatch(await queued());
    const taken = await engine.take(record._id, runId, false, 3);
    if (!taken) throw new Error('not taken');
    broker.sent.length = 0;
    return taken;
  };
  const jobOf = (id: ObjectId): ConversionJob => ({
    type: 'conversion.job',
    version: 1,
    conversionId: id.toHexString(),
    videoId: 'v',
    ownerId: 'alice',
    filename: 'clip.mp4',
    options: {},
  });

  it('create announces nothing; dispatch announces QUEUED, confirmed before the job is sent', async () => {
    const record = await queued();
    expect(broker.sent).toEqual([]);
    const sent = await engine.dispatch(record);
    expect(broker.sent.map((s) => s.kind)).toEqual(['event', 'queue']);
    expect(broker.updates()).toEqual(['QUEUED']);
    expect(jobs()).toMatchObject([
      { type: 'conversion.job', conversionId: record._id.toHexString() },
    ]);
    expect(store.get(record._id)?.jobSentAt).toEqual(sent.jobSentAt);
    // Once sent, a second dispatch (a redelivered event) changes and announces nothing.
    await engine.dispatch(sent);
    expect(broker.sent).toHaveLength(2);
  });

  it('dispatch sends no job when QUEUED cannot be announced', async () => {
    const record = await queued();
    broker.failEvents = new Error('broker away');
    await expect(engine.dispatch(record)).rejects.toThrow('broker away');
    expect(jobs()).toEqual([]);
    expect(store.get(record._id)?.jobSentAt).toBeNull();
  });

  it('take announces RUNNING, unless the take is past the attempts allowed', async () => {
    const record = await engine.dispatch(await queued());
    broker.sent.length = 0;
    await engine.take(record._id, 'run-1', false, 3);
    expect(broker.updates()).toEqual(['RUNNING 0']);
    store.records.set(record._id.toHexString(), { ...store.get(record._id)!, attempts: 3 });
    await engine.take(record._id, 'run-2', true, 3);
    expect(broker.updates()).toEqual(['RUNNING 0']);
  });

  it('progress is announced once saved and only when it changed; a lost run announces nothing', async () => {
    const record = await running();
    expect(await engine.progress(record, 'run-1', 0.5, 0)).toBe(true);
    expect(await engine.progress(record, 'run-1', 0.5, 0.5)).toBe(true);
    expect(await engine.progress(record, 'other-run', 0.7, 0.5)).toBe(false);
    expect(broker.updates()).toEqual(['RUNNING 0.5']);
    expect(store.get(record._id)?.progress).toBe(0.5);
  });

  it('succeed announces SUCCEEDED after its beforeAnnounce step', async () => {
    const record = await running();
    const seen: string[][] = [];
    await engine.succeed(record._id, 'run-1', 'audio-1', () => {
      seen.push(broker.updates());
      return Promise.resolve();
    });
    expect(seen).toEqual([[]]);
    expect(broker.updates()).toEqual(['SUCCEEDED']);
  });

  it('fail, handBack and awaitUpload announce FAILED, QUEUED and QUEUED', async () => {
    const announced: string[] = [];
    const a = await running('a');
    await engine.fail(a._id, 'a', ConversionErrorCode.UNSUPPORTED_MEDIA, 'no');
    announced.push(...broker.updates());
    const b = await running('b');
    await engine.handBack(b._id, 'b', 'Its worker stopped');
    announced.push(...broker.updates());
    const c = await running('c');
    await engine.awaitUpload(c._id, 'c', 'stalled');
    announced.push(...broker.updates());
    expect(announced).toEqual(['FAILED', 'QUEUED', 'QUEUED']);
    expect(store.get(a._id)?.status).toBe('FAILED');
    expect(store.get(b._id)?.attempts).toBe(0);
    expect(store.get(c._id)).toMatchObject({
      status: 'QUEUED',
      awaitingUpload: true,
      jobSentAt: null,
    });
  });

  it('retry sends the job to the retry queue with its delay, then announces QUEUED', async () => {
    const record = await running();
    await engine.retry(jobOf(record._id), record._id, 'run-1', 'flaky', 4000);
    expect(broker.sent).toMatchObject([
      { kind: 'queue', queue: broker.topology.queues.jobsRetry, options: { expiration: '4000' } },
      { kind: 'event', message: { status: 'QUEUED' } },
    ]);
  });

  it('giveUp parks the job in the dead-letter queue, then announces FAILED', async () => {
    const record = await running();
    await engine.giveUp(
      jobOf(record._id),
      record._id,
      'run-1',
      ConversionErrorCode.RETRIES_EXHAUSTED,
      'x',
    );
    expect(broker.sent).toMatchObject([
      { kind: 'queue', queue: broker.topology.queues.jobsDead },
      { kind: 'event', message: { type: 'conversion.updated', status: 'FAILED' } },
      { kind: 'event', message: { type: 'conversion.finished', status: 'FAILED' } },
    ]);
  });

  it('each final state goes out once more as conversion.finished, with what a notice needs', async () => {
    // running() forgets what was sent before it: gather each conversion's as it goes.
    const finished = [];
    const a = await running('a');
    await engine.succeed(a._id, 'a', new ObjectId().toHexString(), () => Promise.resolve());
    finished.push(...broker.finished());
    const b = await running('b');
    await engine.fail(b._id, 'b', ConversionErrorCode.NO_AUDIO_STREAM, 'silent film');
    finished.push(...broker.finished());
    const c = await running('c');
    await engine.cancel(c._id);
    await engine.cancel(c._id);
    finished.push(...broker.finished());
    expect(finished).toEqual([
      expect.objectContaining({
        conversionId: a._id.toHexString(),
        status: 'SUCCEEDED',
        filename: a.filename,
        audioId: store.get(a._id)?.audioId,
        errorCode: null,
      }),
      expect.objectContaining({ status: 'FAILED', errorCode: 'NO_AUDIO_STREAM', audioId: null }),
      expect.objectContaining({ status: 'CANCELLED', errorCode: null }),
    ]);
    for (const { _id } of [a, b, c]) expect(store.get(_id)?.finishAnnounced).toBe(true);
  });

  it('a conversion.finished the broker refused is sent by announceFinished, once', async () => {
    const record = await running();
    broker.failEvents = new Error('broker away');
    await engine.fail(record._id, 'run-1', ConversionErrorCode.TIMEOUT, 'slow');
    expect(store.get(record._id)?.finishAnnounced).toBe(false);
    broker.failEvents = undefined;
    expect(await engine.announceFinished(new Date(Date.now() - 60_000))).toBe(0);
    expect(await engine.announceFinished(new Date(Date.now() + 1))).toBe(1);
    expect(await engine.announceFinished(new Date(Date.now() + 1))).toBe(0);
    expect(broker.finished()).toEqual([expect.objectContaining({ status: 'FAILED' })]);
  });

  it('a conversion cancelled because its video went, or its upload failed, is not announced as finished', async () => {
    const one = await running();
    const sent = await engine.dispatch(await queued());
    await engine.withdraw(sent._id);
    await engine.forgetVideo(one.videoId);
    expect(broker.finished()).toEqual([]);
    expect(await engine.announceFinished(new Date(Date.now() + 1))).toBe(0);
  });

  it('a worker transition on a run that lost the conversion announces nothing', async () => {
    const record = await running();
    await engine.cancel(record._id);
    broker.sent.length = 0;
    await engine.succeed(record._id, 'run-1', 'audio', () => Promise.resolve());
    await engine.fail(record._id, 'run-1', ConversionErrorCode.TIMEOUT, 'slow');
    await engine.handBack(record._id, 'run-1', 'stopping');
    await engine.awaitUpload(record._id, 'run-1', 'stalled');
    await engine.retry(jobOf(record._id), record._id, 'run-1', 'flaky', 10);
    expect(broker.updates()).toEqual([]);
  });

  it('a worker transition whose event cannot be published still changes the record', async () => {
    const record = await running();
    broker.failEvents = new Error('broker away');
    await expect(
      engine.fail(record._id, 'run-1', ConversionErrorCode.TIMEOUT, 'slow'),
    ).resolves.toMatchObject({
      status: 'FAILED',
    });
  });

  it('cancel announces CANCELLED once; withdraw announces only what it cancels', async () => {
    const record = await running();
    await engine.cancel(record._id);
    await engine.cancel(record._id);
    expect(broker.updates()).toEqual(['CANCELLED']);
    const unsent = await queued();
    await engine.withdraw(unsent._id);
    expect(store.get(unsent._id)).toBeUndefined();
    const sent = await engine.dispatch(await queued());
    broker.sent.length = 0;
    await engine.withdraw(sent._id);
    expect(broker.updates()).toEqual(['CANCELLED']);
  });

  it('forgetVideo announces CANCELLED for each conversion still active, then removes them all', async () => {
    const one = await running();
    await engine.succeed(one._id, 'run-1', 'audio', () => Promise.resolve());
    const two = await engine.create({ ...one, id: new ObjectId(), options: {} });
    broker.sent.length = 0;
    await engine.forgetVideo(one.videoId);
    expect(broker.updates()).toEqual(['CANCELLED']);
    expect(store.get(two._id)).toBeUndefined();
  });

  it('reclaimSilent takes back a silent run and dispatches it: QUEUED, then the job', async () => {
    const record = await running();
    expect(await engine.reclaimSilent(new Date(Date.now() - 60_000))).toBeNull();
    await engine.reclaimSilent(new Date(Date.now() + 1));
    expect(broker.sent.map((s) => s.kind)).toEqual(['event', 'queue']);
    expect(broker.updates()).toEqual(['QUEUED']);
    expect(store.get(record._id)).toMatchObject({ status: 'QUEUED', runId: null });
  });

  it('resend and uploadEnded change no state and announce nothing', async () => {
    const record = await engine.dispatch(await queued());
    broker.sent.length = 0;
    await engine.resend(record);
    await engine.uploadEnded(record.videoId);
    expect(broker.updates()).toEqual([]);
    expect(jobs()).toHaveLength(1);
  });
});
