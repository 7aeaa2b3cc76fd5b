import type { Readable } from 'node:stream';
import type { ObjectId } from 'mongodb';
import type { AudioStreamInfo } from '../../lib/contracts/audioReport.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { UploadState } from '../../lib/stores/followUpload.js';
import type { StorageQuota } from '../../lib/stores/storageQuota.js';
import type { WorkerConfig } from '../config.js';
import type { ProbeResult } from '../probeMedia.js';
import type { AudioTail } from '../tailAudioIntoGridFs.js';

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

/** The source stage: one video's bytes, followed while its upload streams, or as stored. */
export interface VideoSource {
  /** Where the upload stands now. */
  state(): Promise<UploadState>;
  /** Its bytes from the first; while it streams, each as it arrives. Ends with the upload. */
  read(signal: AbortSignal): Readable;
  /**
   * Waits for media to announce the upload, then checks it holds exactly the bytes `read`:
   * an upload withdrawn meanwhile ends in UploadFailedError.
   */
  expectAnnounced(read: { bytes: number; sha256(): string }, signal: AbortSignal): Promise<void>;
}

/** The sink stage: where this run's MP3 goes, under the id `audioId`. */
export interface AudioSink {
  readonly audioId: ObjectId;
  /** Removes what earlier runs of the conversion, killed mid-way, left. */
  clearEarlierRuns(): Promise<void>;
  /** Stores the MP3 ffmpeg writes at `path` as it grows; finish() makes it whole. */
  tail(path: string): Promise<AudioTail>;
}

/** What one ffmpeg run is given, beside its arguments. */
export interface FfmpegRunOptions {
  /** Fed to ffmpeg's standard input (`-i pipe:0`); none when it reads a file. */
  input?: Readable;
  expectedSeconds: number;
  timeoutMs: number;
  signal: AbortSignal;
  onProgress: (fraction: number) => void;
}

/** The runner stage and the prober the plan uses: ffmpeg and ffprobe. */
export interface MediaTools {
  probe(path: string): Promise<ProbeResult>;
  /**
   * Resolves with what ffmpeg reported on stderr as errors (it may exit 0 with some), and its
   * log (loudnorm's report is there).
   */
  ffmpeg(args: string[], options: FfmpegRunOptions): Promise<{ errors: string; log?: string }>;
}

export type PipelineConfig = Pick<
  WorkerConfig,
  'jobTimeoutMs' | 'uploadStallMs' | 'realtime' | 'tempDir' | 'maxMediaSeconds'
>;

/** A conversion's stages, made for one run (convertVideo) or faked (the component tests). */
export interface ConversionStages {
  config: PipelineConfig;
  source: VideoSource;
  sink: AudioSink;
  tools: MediaTools;
  quota: Pick<StorageQuota, 'reserve' | 'release' | 'maxBytes'>;
  log: Pick<Logger, 'info'>;
  /** Told the source's audio streams once probed (kept for `Video.audioStreams`). */
  describeSource?: (audioStreams: AudioStreamInfo[]) => Promise<unknown>;
}
