import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ObjectId, type Db } from 'mongodb';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { effectiveMp3Options } from '../lib/contracts/mp3Options.js';
import type { Logger } from '../lib/platform/logger.js';
import type { ConversionRecord } from '../lib/stores/conversions.js';
import type { StorageQuota } from '../lib/stores/storageQuota.js';
import { removeMp3sOf } from '../lib/stores/audioFiles.js';
import {
  expectAnnouncedUpload,
  followVideoUpload,
  videoUploadState,
} from '../lib/stores/followUpload.js';
import { BadInputError } from './BadInputError.js';
import { buildFfmpegArgs, type FfmpegPlan } from './buildFfmpegArgs.js';
import type { WorkerConfig } from './config.js';
import { probeMedia, type ProbeResult } from './probeMedia.js';
import { MAX_HEAD_BYTES, readStreamability, type Streamability } from './readStreamability.js';
import { FfmpegAbortedError, FfmpegTimeoutError, runFfmpeg } from './runFfmpeg.js';
import { tailAudioIntoGridFs, type AudioTail } from './tailAudioIntoGridFs.js';
import { createUploadStallWatch } from './createUploadStallWatch.js';
import { UploadOutlastedJobError } from './UploadOutlastedJobError.js';

/**
 * How a conversion read its video: `realtime`, into ffmpeg while the upload streamed;
 * `fallback`, the upload was streaming but the MP3 was made from the stored file once it ended
 * (the container cannot be read as a stream, or ffmpeg failed on the stream: the reason says);
 * `stored`, from the stored file alone (the upload had ended when the job began).
 */
export type ConversionPath = 'realtime' | 'fallback' | 'stored';

export interface ConvertedAudio {
  /** The MP3's GridFS file id: this run's own (see Mp3Chunk). */
  audioId: ObjectId;
  path: ConversionPath;
  /** Why that path: for the log line that says which ran. */
  reason: string;
  /** Milliseconds per stage, for the log. */
  stages: Record<string, number>;
}

/**
 * Converts one conversion's video into an MP3 stored under a file id of this run's own (the
 * returned `audioId`), by the fastest path that is safe:
 *
 * - The video is always read from the store chunk by chunk, following the upload while it
 *   streams (`followVideoUpload`), into a local copy that is hashed on the way.
 * - If the upload is still streaming and its head says it can be read front to back
 *   (`readStreamability`), ffmpeg gets the same bytes on its standard input as they arrive.
 *   Its MP3 is checked like any other; if it fails or comes out short, the local copy, whole
 *   once the upload ends, is converted instead.
 * - The MP3 goes into GridFS while ffmpeg writes it (`tailAudioIntoGridFs`), and is made whole
 *   (its file document) only once it is checked and media has announced the upload with the
 *   very bytes that were converted: an upload that fails never gets an MP3.
 *
 * Bad input ends in BadInputError, an upload that ended without a file in UploadFailedError.
 */
export async function convertVideo(
  deps: { config: WorkerConfig; mediaDb: Db; quota: StorageQuota; log: Logger },
  record: ConversionRecord,
  run: { stillOwned: () => Promise<boolean>; signal: AbortSignal },
  onProgress: (fraction: number) => void,
): Promise<ConvertedAudio> {
  const { config, mediaDb, quota, log } = deps;
  const { signal } = run;
  const id = record._id;
  const conversionId = id.toHexString();
  const videoId = new ObjectId(record.videoId);
  // Everything up to the ack stays within the job limit, which stays under RabbitMQ's
  // consumer_timeout; a job whose upload outlasts it is handed back (UploadOutlastedJobError).
  const deadline = Date.now() + config.jobTimeoutMs;
  // As media's janitor reckons it: an upload cannot stream for longer than its time limit, and
  // twice that leaves room for clocks and the server's own timeout checks.
  const staleAfterMs = 2 * config.uploadTimeoutMs;
  const stages: Record<string, number> = {};
  let stageStart = performance.now();
  const stage = (name: string) => {
    const now = performance.now();
    stages[name] = Math.round(now - stageStart);
    stageStart = now;
  };

  const audioId = new ObjectId();
  /**
   * Holds `bytes` of the owner's storage for this MP3 (the most it could take, then what it
   * took), or fails the conversion: an MP3 counts against MAX_STORED_BYTES_PER_USER like the
   * video it is made of.
   */
  const holdRoom = async (bytes: number) => {
    const held = await quota.reserve(
      `mp3:${conversionId}`,
      record.owner,
      bytes,
      config.jobTimeoutMs + 60_000,
    );
    if (held) return;
    throw new BadInputError(
      ConversionErrorCode.QUOTA_EXCEEDED,
      `The MP3 (up to ${bytes} bytes) would take your storage past its ${quota.maxBytes} bytes; delete videos to make room`,
    );
  };
  const stillStreaming = async () =>
    (await videoUploadState(mediaDb, videoId, staleAfterMs)).kind === 'streaming';
  const state = await videoUploadState(mediaDb, videoId, staleAfterMs);
  // Deleted meanwhile (then the record goes too, and this changes nothing), or lost.
  if (state.kind === 'gone') {
    throw new BadInputError(ConversionErrorCode.UNSUPPORTED_MEDIA, 'The video is no longer stored');
  }
  if (state.kind === 'complete') await expectFreeSpace(config.tempDir, state.file.length);
  const streaming = state.kind === 'streaming';
  // Following an upload that stops sending would hold this worker for nothing.
  const stall = streaming
    ? createUploadStallWatch({ stallMs: config.uploadStallMs, stillStreaming })
    : undefined;
  // What earlier runs, killed mid-way, left of their MP3s.
  await removeMp3sOf(mediaDb, id);
  let tail: AudioTail | undefined;
  const startTail = async () =>
    (tail = await tailAudioIntoGridFs(mediaDb, audioId, output, {
      conversionId,
      stillOwned: run.stillOwned,
    }));
  const dir = await mkdtemp(join(config.tempDir, 'reelflux-'));
  const input = join(dir, 'input');
  const output = join(dir, 'output.mp3');
  // Reading the upload stops with the job (cancelled, lost, worker stopping) or at its end.
  const stopReading = new AbortController();
  const stopRead = () => stopReading.abort(signal.reason);
  signal.addEventListener('abort', stopRead, { once: true });
  stall?.signal.addEventListener('abort', () => stopReading.abort(stall.signal.reason), {
    once: true,
  });
  try {
    const realtime: { plan?: FfmpegPlan; reason: string } =
      streaming && config.realtime
        ? await withDeadline(planRealtime(join(dir, 'head'), output), deadline, stillStreaming)
        : {
            reason: streaming
              ? 'realtime conversion is off (WORKER_REALTIME)'
              : 'the upload had ended when the job began',
          };
    stage('headMs');

    const feed = realtime.plan ? new PassThrough() : undefined;
    const copy = new CopyAndFeed(feed, () => stall?.saw());
    const copying = pipeline(
      followVideoUpload(mediaDb, videoId, { staleAfterMs, signal: stopReading.signal }),
      copy,
      createWriteStream(input, { mode: 0o600 }),
    );
    // Awaited below; until then, its failure only stops ffmpeg.
    const ffmpegStop = new AbortController();
    const stopFfmpeg = () => ffmpegStop.abort(signal.reason);
    signal.addEventListener('abort', stopFfmpeg, { once: true });
    stall?.signal.addEventListener('abort', () => ffmpegStop.abort(stall.signal.reason), {
      once: true,
    });
    copying.catch((error: unknown) => {
      feed?.destroy();
      ffmpegStop.abort(error);
    });
    const uploadEnded = () => withDeadline(copying, deadline, stillStreaming);

    let path: ConversionPath = streaming ? 'fallback' : 'stored';
    let reason = realtime.reason;
    let made: ProbeResult | undefined;
    let plan: FfmpegPlan | undefined;
    if (realtime.plan && feed) {
      plan = realtime.plan;
      // No room held ahead here: the upload still holds its own, up to all the owner has left,
      // while it streams. What the MP3 took is held below, once the upload is stored.
      await startTail();
      const ran = await runFfmpeg(config.ffmpegPath, plan.args, {
        input: feed,
        expectedSeconds: plan.expectedSeconds,
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal: ffmpegStop.signal,
        onProgress,
      }).then(
        (done): { errors: string } | Error => done,
        (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
      );
      await uploadEnded();
      if (signal.aborted) throw new FfmpegAbortedError(signal.reason);
      // Out of time while the upload still streams: later. Slow on its own: the stored file.
      if (ran instanceof FfmpegTimeoutError && (await stillStreaming())) {
        throw new UploadOutlastedJobError();
      }
      // On a pipe, ffmpeg reports a failed seek or a cut-off packet and still exits 0.
      made = ran instanceof Error || ran.errors ? undefined : await checkOutput(output, plan);
      stage('realtimeMs');
      if (made) path = 'realtime';
      else {
        reason =
          ran instanceof Error
            ? `ffmpeg failed on the stream: ${ran.message}`
            : ran.errors
              ? `ffmpeg reported errors on the stream: ${ran.errors.split('\n')[0] ?? ''}`
              : 'the MP3 made from the stream came out short';
        log.info(
          { conversionId, reason },
          'realtime conversion given up; converting the stored file',
        );
        await tail?.discard();
        tail = undefined;
      }
    }
    signal.removeEventListener('abort', stopFfmpeg);

    if (!made) {
      await uploadEnded();
      stage('uploadWaitMs');
      const probe = await probeMedia(config.ffprobePath, input);
      stage('probeMs');
      plan = planFor(probe, input, output);
      await holdRoom(plan.maxOutputBytes);
      await expectFreeSpace(config.tempDir, plan.maxOutputBytes);
      await startTail();
      await runFfmpeg(config.ffmpegPath, plan.args, {
        expectedSeconds: plan.expectedSeconds,
        timeoutMs: Math.max(1, deadline - Date.now()),
        signal,
        onProgress,
      }).catch((error: unknown) => {
        // Its time went on waiting for the upload: the next attempt has the whole limit.
        if (error instanceof FfmpegTimeoutError && streaming) throw new UploadOutlastedJobError();
        throw error;
      });
      if (signal.aborted) throw new FfmpegAbortedError(signal.reason);
      stage('ffmpegMs');
      made = await checkOutput(output, plan);
      if (!made) {
        throw new BadInputError(
          ConversionErrorCode.UNSUPPORTED_MEDIA,
          `The audio could not be decoded whole (expected ${plan.expectedSeconds.toFixed(2)} s)`,
        );
      }
    }
    const finishing = tail;
    if (!plan || !finishing)
      throw new Error('unreachable: a checked MP3 has its plan and its tail');

    await expectAnnouncedUpload(mediaDb, videoId, copy, { staleAfterMs, signal });
    stage('announceWaitMs');
    // What it took, in place of what it might have: the room the MP3 really needs.
    await holdRoom((await stat(output)).size);
    const options = effectiveMp3Options(record.options, record.filename);
    await finishing.finish(`${options.title ?? 'audio'}.mp3`, {
      owner: record.owner,
      videoId: record.videoId,
      conversionId,
      durationSeconds: made.durationSeconds,
      bitrateKbps: Math.round((made.bitRate ?? 0) / 1000),
    });
    tail = undefined;
    stage('gridfsFinishMs');
    return { audioId, path, reason, stages };
  } catch (error) {
    // Whatever a stopped job was waiting on failed because it stopped: say so, for its decision.
    if (signal.aborted && !(error instanceof FfmpegAbortedError)) {
      throw new FfmpegAbortedError(signal.reason);
    }
    // Whatever waited on the stalled upload failed because the watch stopped it.
    if (stall?.signal.aborted) throw stall.signal.reason;
    throw error;
  } finally {
    // Made whole, the MP3 counts itself; not made, it needs no room.
    await quota.release(`mp3:${conversionId}`).catch(() => undefined);
    stall?.stop();
    signal.removeEventListener('abort', stopRead);
    stopReading.abort();
    await tail?.discard().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }

  /** The head probed and the plan for ffmpeg on a pipe, or why the stored file must serve. */
  async function planRealtime(
    headPath: string,
    outputPath: string,
  ): Promise<{ plan?: FfmpegPlan; reason: string }> {
    const { streamability, head } = await readHead(
      mediaDb,
      videoId,
      staleAfterMs,
      stopReading.signal,
      () => stall?.saw(),
    );
    if (streamability.kind !== 'stream') {
      return {
        reason: streamability.kind === 'stored' ? streamability.reason : 'no index in 16 MiB',
      };
    }
    await writeFile(headPath, head.subarray(0, streamability.headBytes), { mode: 0o600 });
    // A head that does not probe may still be a whole file that does: the stored path decides.
    const probe = await probeMedia(config.ffprobePath, headPath).catch(() => null);
    if (!probe || !(probe.durationSeconds > 0) || !probe.audio) {
      return { reason: 'its head tells no duration or audio stream' };
    }
    return {
      plan: planFor(probe, 'pipe:0', outputPath),
      reason: 'the upload was streaming and its head has its index',
    };
  }

  function planFor(probe: ProbeResult, source: string, outputPath: string): FfmpegPlan {
    if (probe.durationSeconds > config.maxMediaSeconds) {
      throw new BadInputError(
        ConversionErrorCode.MEDIA_TOO_LONG,
        `The media lasts ${Math.round(probe.durationSeconds)} s, over the limit of ${config.maxMediaSeconds} s`,
      );
    }
    return buildFfmpegArgs({
      source,
      output: outputPath,
      probe,
      requested: record.options,
      videoFilename: record.filename,
    });
  }

  /** The MP3's probe if it is whole (ffmpeg can exit 0 with an empty or short file), else none. */
  async function checkOutput(path: string, plan: FfmpegPlan): Promise<ProbeResult | undefined> {
    const size = await stat(path).then(
      (s) => s.size,
      () => 0,
    );
    if (size === 0) return undefined;
    const made = await probeMedia(config.ffprobePath, path).catch(() => null);
    const tolerance = Math.max(0.5, plan.expectedSeconds * 0.02);
    if (!made || Math.abs(made.durationSeconds - plan.expectedSeconds) > tolerance) {
      return undefined;
    }
    return made;
  }
}

/**
 * Reads the first bytes of the upload until they say whether it can be converted as a stream.
 * They are read again with the rest: the head is at most MAX_HEAD_BYTES and usually one chunk.
 */
async function readHead(
  db: Db,
  videoId: ObjectId,
  staleAfterMs: number,
  signal: AbortSignal,
  onPiece: () => void,
): Promise<{ streamability: Streamability; head: Buffer }> {
  let head = Buffer.alloc(0);
  for await (const piece of followVideoUpload(db, videoId, { staleAfterMs, signal })) {
    onPiece();
    head = Buffer.concat([head, piece as Buffer]);
    const streamability = readStreamability(head, false);
    if (streamability.kind !== 'more') return { streamability, head };
    if (head.length > MAX_HEAD_BYTES) {
      return { streamability: { kind: 'stored', reason: 'no index in 16 MiB' }, head };
    }
  }
  return { streamability: readStreamability(head, true), head };
}

/**
 * Passes the video on to the local copy, hashing and counting it, and feeds the same bytes to
 * ffmpeg (`feed`) while ffmpeg reads: when ffmpeg is slower, the copy waits, and so does the
 * read from the store; once ffmpeg has stopped reading, the copy goes on alone.
 */
class CopyAndFeed extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private digest: string | undefined;

  constructor(
    private feed: PassThrough | undefined,
    /** Told of each piece as it passes (the stall watch). */
    private readonly onPiece: () => void,
  ) {
    super();
  }

  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.onPiece();
    this.hash.update(chunk);
    this.bytes += chunk.length;
    const feed = this.feed;
    if (!feed || feed.destroyed) {
      this.feed = undefined;
      done(null, chunk);
      return;
    }
    if (feed.write(chunk)) {
      done(null, chunk);
      return;
    }
    const resume = () => {
      feed.off('drain', resume);
      feed.off('close', resume);
      done(null, chunk);
    };
    feed.on('drain', resume);
    feed.on('close', resume);
  }

  override _flush(done: TransformCallback): void {
    this.feed?.end();
    done();
  }
}

/**
 * `work`, or at `deadline` an UploadOutlastedJobError if the upload still streams (the job is
 * then run later), else a plain error (the job limit ran out reading a stored file: retried).
 */
function withDeadline<T>(
  work: Promise<T>,
  deadline: number,
  stillStreaming: () => Promise<boolean>,
): Promise<T> {
  const left = deadline - Date.now();
  const timer = new AbortController();
  const late = sleep(Math.max(0, left), undefined, { signal: timer.signal }).then(async () => {
    if (await stillStreaming()) throw new UploadOutlastedJobError();
    throw new Error('The video could not be read within the job limit');
  });
  late.catch(() => undefined);
  return Promise.race([work, late]).finally(() => timer.abort());
}

/**
 * Refuses to start what would not fit in the temp folder, as ffmpeg would fail on it later:
 * with ENOSPC, so the job is retried (perhaps on a worker with room) and ends DISK_FULL.
 */
async function expectFreeSpace(dir: string, bytes: number): Promise<void> {
  const { bavail, bsize } = await statfs(dir);
  const free = bavail * bsize;
  if (free < bytes) {
    throw Object.assign(
      new Error(`No space left on device: ${bytes} bytes needed in ${dir}, ${free} free`),
      { code: 'ENOSPC' },
    );
  }
}
