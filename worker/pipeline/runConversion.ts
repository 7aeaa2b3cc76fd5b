import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ConversionErrorCode } from '../../lib/contracts/errorCodes.js';
import { effectiveMp3Options } from '../../lib/contracts/mp3Options.js';
import type { ConversionRecord } from '../../lib/stores/conversions.js';
import { BadInputError } from '../BadInputError.js';
import type { FfmpegPlan } from '../buildFfmpegArgs.js';
import { createUploadStallWatch, type UploadStallWatch } from '../createUploadStallWatch.js';
import type { ProbeResult } from '../probeMedia.js';
import { FfmpegAbortedError, FfmpegTimeoutError } from '../runFfmpeg.js';
import type { AudioTail } from '../tailAudioIntoGridFs.js';
import { UploadOutlastedJobError } from '../UploadOutlastedJobError.js';
import { CopyAndFeed } from './CopyAndFeed.js';
import { createConversionPlanner, type ConversionPlanner } from './createConversionPlanner.js';
import { expectFreeSpace } from './expectFreeSpace.js';
import { readHead } from './readHead.js';
import type { ConversionPath, ConversionStages, ConvertedAudio } from './types.js';
import { withDeadline } from './withDeadline.js';
import { describeMp3 } from '../describeMp3.js';

/** One run's state, shared by its steps. */
interface Run {
  stages: ConversionStages;
  record: ConversionRecord;
  signal: AbortSignal;
  onProgress: (fraction: number) => void;
  planner: ConversionPlanner;
  files: { head: string; input: string; output: string; chapters: string };
  /** Everything up to the ack stays within the job limit (RabbitMQ's consumer_timeout). */
  deadline: number;
  /** Whether the upload streamed when the job began. */
  streaming: boolean;
  stall: UploadStallWatch | undefined;
  /** Reading the upload stops with the job (cancelled, lost, worker stopping) or at its end. */
  stopReading: AbortController;
  /** The MP3 being stored, until it is made whole or discarded. */
  tail: AudioTail | undefined;
  stage: (name: string) => void;
  stillStreaming: () => Promise<boolean>;
}

/**
 * Runs one conversion through its stages: the source (the upload, followed while it streams),
 * the plan (probe and ffmpeg arguments), the runner (ffmpeg) and the sink (the MP3 into the
 * store). Whether ffmpeg reads the bytes as they arrive (`realtime`) is a choice of its input:
 * the stream, when the upload streams and its head allows; else the local copy, whole once
 * the upload ends (`fallback`, or `stored` when it had ended already). See convertVideo.
 */
export async function runConversion(
  stages: ConversionStages,
  record: ConversionRecord,
  signal: AbortSignal,
  onProgress: (fraction: number) => void,
): Promise<ConvertedAudio> {
  const { config, source, sink, quota } = stages;
  const timings: Record<string, number> = {};
  let stageStart = performance.now();
  const stage = (name: string) => {
    const now = performance.now();
    timings[name] = Math.round(now - stageStart);
    stageStart = now;
  };
  const stillStreaming = async () => (await source.state()).kind === 'streaming';
  const state = await source.state();
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
  await sink.clearEarlierRuns();
  const dir = await mkdtemp(join(config.tempDir, 'reelflux-'));
  const files = {
    head: join(dir, 'head'),
    input: join(dir, 'input'),
    output: join(dir, 'output.mp3'),
    chapters: join(dir, 'chapters.ffmeta'),
  };
  const run: Run = {
    stages,
    record,
    signal,
    onProgress,
    planner: createConversionPlanner({
      tools: stages.tools,
      maxMediaSeconds: config.maxMediaSeconds,
      record,
      outputPath: files.output,
      chaptersPath: files.chapters,
      ...(stages.describeSource ? { describeSource: stages.describeSource } : {}),
    }),
    files,
    deadline: Date.now() + config.jobTimeoutMs,
    streaming,
    stall,
    stopReading: new AbortController(),
    tail: undefined,
    stage,
    stillStreaming,
  };
  const stopRead = () => run.stopReading.abort(signal.reason);
  signal.addEventListener('abort', stopRead, { once: true });
  stall?.signal.addEventListener('abort', () => run.stopReading.abort(stall.signal.reason), {
    once: true,
  });
  try {
    const { path, reason } = await convert(run);
    return { audioId: sink.audioId, path, reason, stages: timings };
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
    await quota.release(`mp3:${record._id.toHexString()}`).catch(() => undefined);
    stall?.stop();
    signal.removeEventListener('abort', stopRead);
    run.stopReading.abort();
    await run.tail?.discard().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Chooses ffmpeg's input, converts, and makes the checked MP3 whole. */
async function convert(run: Run): Promise<{ path: ConversionPath; reason: string }> {
  const { config, source } = run.stages;
  const realtime: { plan?: FfmpegPlan; reason: string } =
    run.streaming && config.realtime
      ? await withDeadline(planStream(run), run.deadline, run.stillStreaming)
      : {
          reason: run.streaming
            ? 'realtime conversion is off (WORKER_REALTIME)'
            : 'the upload had ended when the job began',
        };
  run.stage('headMs');

  // The whole upload always goes to a local copy, hashed; with a stream plan, ffmpeg gets the
  // same bytes as they pass.
  const feed = realtime.plan ? new PassThrough() : undefined;
  const copy = new CopyAndFeed(feed, () => run.stall?.saw());
  const copying = pipeline(
    source.read(run.stopReading.signal),
    copy,
    createWriteStream(run.files.input, { mode: 0o600 }),
  );
  // Awaited below; until then, its failure only stops ffmpeg.
  const ffmpegStop = new AbortController();
  const stopFfmpeg = () => ffmpegStop.abort(run.signal.reason);
  run.signal.addEventListener('abort', stopFfmpeg, { once: true });
  run.stall?.signal.addEventListener('abort', () => ffmpegStop.abort(run.stall?.signal.reason), {
    once: true,
  });
  copying.catch((error: unknown) => {
    feed?.destroy();
    ffmpegStop.abort(error);
  });
  const uploadEnded = () => withDeadline(copying, run.deadline, run.stillStreaming);

  let path: ConversionPath = run.streaming ? 'fallback' : 'stored';
  let reason = realtime.reason;
  let made: Made | undefined;
  if (realtime.plan && feed) {
    const streamed = await convertStream(run, realtime.plan, feed, ffmpegStop.signal, uploadEnded);
    if ('probe' in streamed) {
      made = { plan: realtime.plan, probe: streamed.probe, log: streamed.log };
      path = 'realtime';
    } else reason = streamed.reason;
  }
  run.signal.removeEventListener('abort', stopFfmpeg);
  if (!made) {
    await uploadEnded();
    run.stage('uploadWaitMs');
    made = await convertFile(run);
  }
  await source.expectAnnounced(copy, run.signal);
  run.stage('announceWaitMs');
  await finishMp3(run, made);
  return { path, reason };
}

/** A checked MP3: the plan that made it, its probe, and ffmpeg's log (loudnorm's report). */
interface Made {
  plan: FfmpegPlan;
  probe: ProbeResult;
  log: string;
}

/** The head probed and the plan for ffmpeg on a pipe, or why the stored file must serve. */
async function planStream(run: Run): Promise<{ plan?: FfmpegPlan; reason: string }> {
  const read = await readHead(run.stages.source.read(run.stopReading.signal), () =>
    run.stall?.saw(),
  );
  return run.planner.forStream(read, run.files.head);
}

/**
 * ffmpeg on the upload as it arrives: the MP3's probe if it came out whole, else why not (the
 * tail is discarded, and the local copy is converted instead).
 */
async function convertStream(
  run: Run,
  plan: FfmpegPlan,
  feed: PassThrough,
  ffmpegSignal: AbortSignal,
  uploadEnded: () => Promise<void>,
): Promise<{ probe: ProbeResult; log: string } | { reason: string }> {
  const { tools, log } = run.stages;
  // No room held ahead here: the upload still holds its own, up to all the owner has left,
  // while it streams. What the MP3 took is held below, once the upload is stored.
  run.tail = await run.stages.sink.tail(run.files.output);
  const ran = await tools
    .ffmpeg(plan.args, {
      input: feed,
      expectedSeconds: plan.expectedSeconds,
      timeoutMs: Math.max(1, run.deadline - Date.now()),
      signal: ffmpegSignal,
      onProgress: run.onProgress,
    })
    .then(
      (done): { errors: string; log?: string } | Error => done,
      (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
    );
  await uploadEnded();
  if (run.signal.aborted) throw new FfmpegAbortedError(run.signal.reason);
  // Out of time while the upload still streams: later. Slow on its own: the stored file.
  if (ran instanceof FfmpegTimeoutError && (await run.stillStreaming())) {
    throw new UploadOutlastedJobError();
  }
  // On a pipe, ffmpeg reports a failed seek or a cut-off packet and still exits 0.
  const probe = ran instanceof Error || ran.errors ? undefined : await run.planner.check(plan);
  run.stage('realtimeMs');
  if (probe && !(ran instanceof Error)) return { probe, log: ran.log ?? '' };
  const reason =
    ran instanceof Error
      ? `ffmpeg failed on the stream: ${ran.message}`
      : ran.errors
        ? `ffmpeg reported errors on the stream: ${ran.errors.split('\n')[0] ?? ''}`
        : 'the MP3 made from the stream came out short';
  log.info(
    { conversionId: run.record._id.toHexString(), reason },
    'realtime conversion given up; converting the stored file',
  );
  await run.tail.discard();
  run.tail = undefined;
  return { reason };
}

/** ffmpeg on the whole local copy: its plan and the MP3's probe, or BadInputError. */
async function convertFile(run: Run): Promise<Made> {
  const { config, tools, sink } = run.stages;
  const plan = await run.planner.forFile(run.files.input, {
    signal: run.signal,
    timeoutMs: () => Math.max(1, run.deadline - Date.now()),
  });
  run.stage('probeMs');
  await holdRoom(run, plan.maxOutputBytes);
  await expectFreeSpace(config.tempDir, plan.maxOutputBytes);
  run.tail = await sink.tail(run.files.output);
  const ran = await tools
    .ffmpeg(plan.args, {
      expectedSeconds: plan.expectedSeconds,
      timeoutMs: Math.max(1, run.deadline - Date.now()),
      signal: run.signal,
      onProgress: run.onProgress,
    })
    .catch((error: unknown) => {
      // Its time went on waiting for the upload: the next attempt has the whole limit.
      if (error instanceof FfmpegTimeoutError && run.streaming) throw new UploadOutlastedJobError();
      throw error;
    });
  if (run.signal.aborted) throw new FfmpegAbortedError(run.signal.reason);
  run.stage('ffmpegMs');
  const probe = await run.planner.check(plan);
  if (!probe) {
    throw new BadInputError(
      ConversionErrorCode.UNSUPPORTED_MEDIA,
      `The audio could not be decoded whole (expected ${plan.expectedSeconds.toFixed(2)} s)`,
    );
  }
  return { plan, probe, log: ran.log ?? '' };
}

/** Holds the room the MP3 really took, then makes it whole in the store. */
async function finishMp3(run: Run, { plan, probe: made, log }: Made): Promise<void> {
  const finishing = run.tail;
  if (!finishing) throw new Error('unreachable: a checked MP3 has its tail');
  // What it took, in place of what it might have: the room the MP3 really needs.
  await holdRoom(run, (await stat(run.files.output)).size);
  const { record } = run;
  const options = effectiveMp3Options(record.options, record.filename);
  await finishing.finish(`${options.title ?? 'audio'}.mp3`, {
    owner: record.owner,
    videoId: record.videoId,
    conversionId: record._id.toHexString(),
    durationSeconds: made.durationSeconds,
    bitrateKbps: Math.round((made.bitRate ?? 0) / 1000),
    ...describeMp3(plan, log),
  });
  run.tail = undefined;
  run.stage('gridfsFinishMs');
}

/**
 * Holds `bytes` of the owner's storage for this MP3 (the most it could take, then what it
 * took), or fails the conversion: an MP3 counts against MAX_STORED_BYTES_PER_USER like the
 * video it is made of.
 */
async function holdRoom(run: Run, bytes: number): Promise<void> {
  const { quota, config } = run.stages;
  const held = await quota.reserve(
    `mp3:${run.record._id.toHexString()}`,
    run.record.owner,
    bytes,
    config.jobTimeoutMs + 60_000,
  );
  if (held) return;
  throw new BadInputError(
    ConversionErrorCode.QUOTA_EXCEEDED,
    `The MP3 (up to ${bytes} bytes) would take your storage past its ${quota.maxBytes} bytes; delete videos to make room`,
  );
}
