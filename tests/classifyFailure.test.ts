import { MongoNetworkError, MongoServerError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { UploadFailedError } from '../lib/stores/gridfs.js';
import { BadInputError } from '../worker/BadInputError.js';
import {
  AbortReason,
  FFMPEG_UNDECODABLE_EXIT,
  classifyFailure,
} from '../worker/classifyFailure.js';
import { RunLostError } from '../worker/tailAudioIntoGridFs.js';
import { UploadOutlastedJobError } from '../worker/UploadOutlastedJobError.js';
import { UploadStalledError } from '../worker/UploadStalledError.js';
import { FfmpegAbortedError, FfmpegFailedError, FfmpegTimeoutError } from '../worker/runFfmpeg.js';

const policy = { maxAttempts: 3, retryBaseMs: 2000, jobTimeoutMs: 1_500_000 };

describe('classifyFailure: what a failed attempt leads to', () => {
  it('hands the job back when the worker stops, and drops it when the run lost it', () => {
    expect(classifyFailure(new FfmpegAbortedError(AbortReason.SHUTDOWN), 1, policy)).toEqual({
      kind: 'handBack',
    });
    expect(classifyFailure(new FfmpegAbortedError(AbortReason.LOST), 1, policy)).toEqual({
      kind: 'drop',
    });
    // Found lost only when it came to make its MP3 whole.
    expect(classifyFailure(new RunLostError('taken over'), 1, policy)).toEqual({ kind: 'drop' });
  });

  it('sets a job whose upload outlasted it or stalled aside until the upload ends, even on the last attempt', () => {
    expect(classifyFailure(new UploadOutlastedJobError(), 3, policy)).toEqual({
      kind: 'awaitUpload',
      message: new UploadOutlastedJobError().message,
    });
    expect(classifyFailure(new UploadStalledError(5000), 3, policy)).toEqual({
      kind: 'awaitUpload',
      message: new UploadStalledError(5000).message,
    });
  });

  it('fails a file ffmpeg mostly could not decode at once, as unsupported media', () => {
    const damaged = new FfmpegFailedError(
      'ffmpeg exited 69: [h264] Invalid NAL unit size (0 > 8).',
      FFMPEG_UNDECODABLE_EXIT,
    );
    expect(classifyFailure(damaged, 1, policy)).toMatchObject({
      kind: 'fail',
      code: 'UNSUPPORTED_MEDIA',
    });
    // Any other exit may be the machine's fault: retried.
    expect(classifyFailure(new FfmpegFailedError('ffmpeg exited 1', 1), 1, policy)).toMatchObject({
      kind: 'retry',
    });
  });

  it('fails bad input at once, whatever the attempt, with its code', () => {
    const error = new BadInputError(ConversionErrorCode.NO_AUDIO_STREAM, 'no audio');
    expect(classifyFailure(error, 1, policy)).toEqual({
      kind: 'fail',
      code: 'NO_AUDIO_STREAM',
      message: 'no audio',
    });
    expect(classifyFailure(new FfmpegTimeoutError('slow'), 1, policy)).toEqual({
      kind: 'fail',
      code: 'TIMEOUT',
      message: 'Conversion took longer than 1500 s',
    });
    // The upload a realtime conversion followed ended without a file: never retried.
    expect(classifyFailure(new UploadFailedError('cut off'), 1, policy)).toEqual({
      kind: 'fail',
      code: 'UPLOAD_FAILED',
      message: 'cut off',
    });
  });

  it('redelivers without spending a retry while the database is away', () => {
    const away = new MongoNetworkError('connection reset');
    expect(classifyFailure(away, 3, policy)).toEqual({ kind: 'redeliver' });
    // What the store answers while the PostgreSQL behind FerretDB, or a primary, is away.
    for (const [code, codeName] of [
      [6, 'HostUnreachable'],
      [10107, 'NotWritablePrimary'],
    ] as const) {
      const answered = new MongoServerError({ ok: 0, code, codeName, errmsg: 'away' });
      expect(classifyFailure(answered, 3, policy), codeName).toEqual({ kind: 'redeliver' });
    }
    // Any other server error is the job's own failure.
    const internal = new MongoServerError({
      ok: 0,
      code: 1,
      codeName: 'InternalError',
      errmsg: 'x',
    });
    expect(classifyFailure(internal, 1, policy)).toMatchObject({ kind: 'retry' });
  });

  it('retries a transient fault with a doubling delay, jittered between half and all of it', () => {
    const crash = new FfmpegFailedError('ffmpeg exited with code 1', 1);
    const delays = (attempts: number) =>
      [0, 0.5, 0.999].map((r) => {
        const decision = classifyFailure(crash, attempts, policy, () => r);
        if (decision.kind !== 'retry') throw new Error(decision.kind);
        return decision.delayMs;
      });
    expect(delays(1)).toEqual([1000, 1500, 1999]);
    expect(delays(2)).toEqual([2000, 3000, 3998]);
    expect(classifyFailure(crash, 1, policy, () => 0)).toMatchObject({
      message: 'ffmpeg exited with code 1',
    });
  });

  it('gives up after the last attempt, naming a full disk apart', () => {
    expect(classifyFailure(new Error('boom'), 3, policy)).toEqual({
      kind: 'giveUp',
      code: 'RETRIES_EXHAUSTED',
      message: 'Gave up after 3 attempts: Error: boom',
    });
    const full = Object.assign(new Error('write failed'), { code: 'ENOSPC' });
    expect(classifyFailure(full, 3, policy)).toMatchObject({ code: 'DISK_FULL' });
    const ffmpegFull = new FfmpegFailedError(
      'av_interleaved_write_frame: No space left on device',
      1,
    );
    expect(classifyFailure(ffmpegFull, 3, policy)).toMatchObject({ code: 'DISK_FULL' });
    expect(classifyFailure(full, 2, policy)).toMatchObject({ kind: 'retry' });
  });
});
