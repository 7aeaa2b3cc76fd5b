import { ObjectId, type Db } from 'mongodb';
import type { AudioStreamInfo } from '../lib/contracts/audioReport.js';
import type { Logger } from '../lib/platform/logger.js';
import type { ConversionRecord } from '../lib/stores/conversions.js';
import type { StorageQuota } from '../lib/stores/storageQuota.js';
import type { WorkerConfig } from './config.js';
import { createGridFsSink } from './pipeline/createGridFsSink.js';
import { createStoreSource } from './pipeline/createStoreSource.js';
import { runConversion } from './pipeline/runConversion.js';
import type { ConvertedAudio, FfmpegRunOptions } from './pipeline/types.js';
import { probeMedia } from './probeMedia.js';
import { runFfmpeg } from './runFfmpeg.js';

export type { ConversionPath, ConvertedAudio } from './pipeline/types.js';

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
 * The stages are in worker/pipeline/ (runConversion runs them).
 */
export async function convertVideo(
  deps: { config: WorkerConfig; mediaDb: Db; quota: StorageQuota; log: Logger },
  record: ConversionRecord,
  run: {
    stillOwned: () => Promise<boolean>;
    signal: AbortSignal;
    /** Keeps the video's audio streams once probed (`Video.audioStreams`). */
    describeSource: (audioStreams: AudioStreamInfo[]) => Promise<unknown>;
  },
  onProgress: (fraction: number) => void,
): Promise<ConvertedAudio> {
  const { config, mediaDb } = deps;
  // As media's janitor reckons it: an upload cannot stream for longer than its time limit, and
  // twice that leaves room for clocks and the server's own timeout checks.
  const staleAfterMs = 2 * config.uploadTimeoutMs;
  const stages = {
    config,
    source: createStoreSource(mediaDb, new ObjectId(record.videoId), staleAfterMs),
    sink: createGridFsSink(mediaDb, new ObjectId(), {
      conversionId: record._id,
      stillOwned: run.stillOwned,
    }),
    tools: {
      probe: (path: string) => probeMedia(config.ffprobePath, path),
      ffmpeg: (args: string[], options: FfmpegRunOptions) =>
        runFfmpeg(config.ffmpegPath, args, options),
    },
    quota: deps.quota,
    log: deps.log,
    describeSource: run.describeSource,
  };
  return runConversion(stages, record, run.signal, onProgress);
}
