import { tmpdir } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import type { ConversionRecord } from '../lib/stores/conversions.js';
import { runConversion } from '../worker/pipeline/runConversion.js';
import type { ConversionPath, ConversionStages, ConvertedAudio } from '../worker/pipeline/types.js';
import { FfmpegAbortedError } from '../worker/runFfmpeg.js';
import { createFakeMediaTools } from './helpers/fakes/createFakeMediaTools.js';
import { createFakeQuota } from './helpers/fakes/createFakeQuota.js';
import { createFakeSink } from './helpers/fakes/createFakeSink.js';
import { createFakeUpload, type FakeUpload } from './helpers/fakes/createFakeUpload.js';

/**
 * The worker's conversion as a pipeline, each stage faked (tests/helpers/fakes/): the upload
 * (source), ffprobe and ffmpeg (plan and runner), and the MP3's store (sink). What is checked is
 * which way the bytes go: into ffmpeg as they arrive, or from the local copy once stored.
 */

/** An ISO BMFF box: 32-bit size, type, body. */
const box = (type: string, bodyBytes: number) => {
  const out = Buffer.alloc(8 + bodyBytes);
  out.writeUInt32BE(8 + bodyBytes, 0);
  out.write(type, 4, 'latin1');
  return out;
};
const ftyp = box('ftyp', 24);
/** An MP4 as phones write it: the media data first, its index (moov) last. */
const mp4IndexLast = Buffer.concat([ftyp, box('mdat', 300_000), box('moov', 5000)]);
/** The first MiB of a WebM (Matroska's EBML magic, then its head). */
const webmHead = Buffer.concat([Buffer.from([0x1a, 0x45, 0xdf, 0xa3]), Buffer.alloc(2 ** 20)]);

const record: ConversionRecord = {
  _id: new ObjectId(),
  videoId: new ObjectId().toHexString(),
  owner: 'someone',
  filename: 'clip.mp4',
  status: 'RUNNING',
  progress: null,
  error: null,
  audioId: null,
  attempts: 1,
  options: {},
  queuedAt: new Date(),
  startedAt: new Date(),
  finishedAt: null,
  jobSentAt: new Date(),
  runId: 'run',
  heartbeatAt: new Date(),
};

function stagesFor(source: FakeUpload) {
  const sink = createFakeSink();
  const tools = createFakeMediaTools();
  const stages: ConversionStages = {
    config: {
      jobTimeoutMs: 30_000,
      uploadStallMs: 5_000,
      realtime: true,
      tempDir: tmpdir(),
      maxMediaSeconds: 3600,
    },
    source,
    sink,
    tools,
    quota: createFakeQuota(),
    log: { info: () => undefined },
  };
  return { stages, sink, tools };
}

const convert = (stages: ConversionStages, signal = new AbortController().signal) =>
  runConversion(stages, record, signal, () => undefined);

/** `done` was made by one ffmpeg run on the stored file, which read no piped byte. */
function expectFromStoredFile(
  done: ConvertedAudio,
  { tools, sink }: Pick<ReturnType<typeof stagesFor>, 'tools' | 'sink'>,
  path: ConversionPath,
  reason: string,
): void {
  expect(done).toMatchObject({ path, reason });
  expect(tools.calls).toEqual([{ piped: false, bytesRead: 0, aborted: false }]);
  expect(sink.finished).toHaveLength(1);
}

describe('runConversion (stages faked)', () => {
  it('converts a streamable WebM as it arrives (realtime)', async () => {
    const upload = createFakeUpload(webmHead, { streaming: true });
    const { stages, sink, tools } = stagesFor(upload);
    const converting = convert(stages);
    await tools.started(1);
    upload.arrive(Buffer.alloc(100_000, 7));
    upload.end();
    const done = await converting;
    expect(done).toMatchObject({ path: 'realtime', audioId: sink.audioId });
    expect(tools.calls).toEqual([
      { piped: true, bytesRead: webmHead.length + 100_000, aborted: false },
    ]);
    expect(sink.finished).toHaveLength(1);
    expect(sink.earlierRunsCleared).toBe(true);
  });

  it('waits for the stored file when an MP4 has its index (moov) last (fallback)', async () => {
    const upload = createFakeUpload(mp4IndexLast.subarray(0, 200_000), { streaming: true });
    const { stages, sink, tools } = stagesFor(upload);
    const converting = convert(stages);
    await sleep(100);
    // Nothing to convert until the upload ends: ffmpeg cannot read this one as a stream.
    expect(tools.calls).toEqual([]);
    upload.arrive(mp4IndexLast.subarray(200_000));
    upload.end();
    expectFromStoredFile(
      await converting,
      { tools, sink },
      'fallback',
      'MP4 index (moov) after the media data',
    );
  });

  it('converts an upload that had ended when the job began from the stored file, as a small one (under REALTIME_MIN_BYTES) is', async () => {
    // Media sends no video.uploading below REALTIME_MIN_BYTES: the job comes once it is stored.
    const upload = createFakeUpload(webmHead.subarray(0, 50_000), { streaming: false });
    const { stages, sink, tools } = stagesFor(upload);
    expectFromStoredFile(
      await convert(stages),
      { tools, sink },
      'stored',
      'the upload had ended when the job began',
    );
  });

  it('stops ffmpeg and stores nothing when cancelled during a realtime conversion', async () => {
    const upload = createFakeUpload(webmHead, { streaming: true });
    const { stages, sink, tools } = stagesFor(upload);
    const job = new AbortController();
    const converting = convert(stages, job.signal);
    await tools.started(1);
    job.abort('cancelled');
    await expect(converting).rejects.toBeInstanceOf(FfmpegAbortedError);
    expect(tools.calls).toEqual([expect.objectContaining({ piped: true, aborted: true })]);
    expect(upload.readsAborted).toBeGreaterThan(0);
    expect(sink.finished).toEqual([]);
    expect(sink.discarded).toBe(sink.tails);
  });
});
