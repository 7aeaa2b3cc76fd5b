import { isDatabaseUnavailable } from '../lib/platform/mongo.js';
import { UploadFailedError } from '../lib/stores/gridfs.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { BadInputError } from './BadInputError.js';
import { UploadOutlastedJobError } from './UploadOutlastedJobError.js';
import { UploadStalledError } from './UploadStalledError.js';
import { FfmpegAbortedError, FfmpegFailedError, FfmpegTimeoutError } from './runFfmpeg.js';
import { RunLostError } from './tailAudioIntoGridFs.js';

/**
 * ffmpeg's exit status when more than `-max_error_rate` (two thirds by default) of the frames
 * it read failed to decode: the file is damaged (a valid header over zeros, say), and another
 * attempt would read the same bytes.
 */
export const FFMPEG_UNDECODABLE_EXIT = 69;

/** Why a running job was stopped from outside. */
export const AbortReason = {
  /** The worker is stopping (SIGTERM past the drain period): hand the job back. */
  SHUTDOWN: 'shutdown',
  /** Its run no longer owns the conversion (cancelled, deleted, taken over): drop it. */
  LOST: 'lost',
} as const;
export type AbortReason = (typeof AbortReason)[keyof typeof AbortReason];

export interface RetryPolicy {
  maxAttempts: number;
  /** First retry delay; doubled for each further attempt, then jittered. */
  retryBaseMs: number;
  jobTimeoutMs: number;
}

/** What to do with a conversion whose attempt threw; `createJobHandler` carries it out. */
export type FailureDecision =
  /** Back to QUEUED with its attempt given back, and the delivery requeued. */
  | { kind: 'handBack' }
  /** Nothing: another run, a cancel or a delete owns what happens next. */
  | { kind: 'drop' }
  /** The delivery requeued as it is: the database is away, not the job at fault. */
  | { kind: 'redeliver' }
  /** FAILED now, never retried: the input is at fault. */
  | { kind: 'fail'; code: ConversionErrorCode; message: string }
  /** QUEUED again (error RETRYING), its job through the retry queue after `delayMs`. */
  | { kind: 'retry'; delayMs: number; message: string }
  /**
   * QUEUED, its attempt given back and no job out, until its upload ends: nothing failed, but
   * the upload is too slow to convert as it arrives, and waiting for it would hold a worker.
   */
  | { kind: 'awaitUpload'; message: string }
  /** FAILED for good, and the job parked in the dead-letter queue. */
  | { kind: 'giveUp'; code: ConversionErrorCode; message: string };

/**
 * The failure decision alone, as a pure function of the error, the attempts so far (this one
 * included) and the policy, so every branch is unit-tested without a broker or a database.
 * Retries back off exponentially with jitter (between half and all of the doubled delay), so
 * jobs failing together, say when a disk filled up, do not all come back at once.
 */
export function classifyFailure(
  error: unknown,
  attempts: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): FailureDecision {
  if (error instanceof FfmpegAbortedError) {
    return error.reason === AbortReason.SHUTDOWN ? { kind: 'handBack' } : { kind: 'drop' };
  }
  if (error instanceof RunLostError) return { kind: 'drop' };
  if (error instanceof UploadOutlastedJobError || error instanceof UploadStalledError) {
    return { kind: 'awaitUpload', message: error.message };
  }
  if (error instanceof BadInputError) {
    return { kind: 'fail', code: error.code, message: error.message };
  }
  // Media sends video.deleted for it, which removes the conversion; until then it says why.
  if (error instanceof UploadFailedError) {
    return { kind: 'fail', code: ConversionErrorCode.UPLOAD_FAILED, message: error.message };
  }
  if (error instanceof FfmpegFailedError && error.exitCode === FFMPEG_UNDECODABLE_EXIT) {
    return {
      kind: 'fail',
      code: ConversionErrorCode.UNSUPPORTED_MEDIA,
      message: `Most of the media could not be decoded: ${error.message}`,
    };
  }
  if (error instanceof FfmpegTimeoutError) {
    return {
      kind: 'fail',
      code: ConversionErrorCode.TIMEOUT,
      message: `Conversion took longer than ${policy.jobTimeoutMs / 1000} s`,
    };
  }
  if (isDatabaseUnavailable(error)) return { kind: 'redeliver' };
  const message = error instanceof Error ? error.message : String(error);
  if (attempts < policy.maxAttempts) {
    const ceiling = policy.retryBaseMs * 2 ** (attempts - 1);
    return { kind: 'retry', delayMs: Math.round(ceiling / 2 + (random() * ceiling) / 2), message };
  }
  // Named apart so the owner and the operator see why: this file is not at fault.
  return {
    kind: 'giveUp',
    code: isDiskFull(error) ? ConversionErrorCode.DISK_FULL : ConversionErrorCode.RETRIES_EXHAUSTED,
    message: `Gave up after ${attempts} attempts: ${String(error)}`,
  };
}

/** Out of space on the worker's disk: a write failed with ENOSPC, or ffmpeg's did. */
function isDiskFull(error: unknown): boolean {
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'ENOSPC') return true;
  return error instanceof Error && /no space left on device/i.test(error.message);
}
