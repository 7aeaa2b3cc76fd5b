import { availableParallelism, tmpdir } from 'node:os';
import { readBrokerSettings, type BrokerSettings } from '../lib/broker/readBrokerSettings.js';
import { readDatabaseSettings, type DatabaseSettings } from '../lib/platform/mongo.js';
import { readProcessBasics, type ProcessBasics } from '../lib/platform/processPorts.js';
import { readEnv } from '../lib/platform/readEnv.js';
import { sharedLimits } from '../lib/platform/sharedLimits.js';

/** A worker has no clients: its internal port (health, readiness, metrics) is all it serves. */
export interface WorkerConfig extends ProcessBasics, DatabaseSettings, BrokerSettings {
  ffmpegPath: string;
  ffprobePath: string;
  /** Jobs at once, and the queue prefetch to match. */
  concurrency: number;
  /** Wall-clock limit per job. Keep it under RabbitMQ's consumer_timeout (30 min by default). */
  jobTimeoutMs: number;
  maxAttempts: number;
  /** First retry delay; doubled for each further attempt. */
  retryBaseMs: number;
  tempDir: string;
  /** Longest source (by ffprobe) a worker converts; longer ones fail MEDIA_TOO_LONG. */
  maxMediaSeconds: number;
  /** On SIGTERM, how long running jobs may take to finish before they are handed back. */
  drainMs: number;
  /** Convert an upload while it still streams, where its container allows (realtime). */
  realtime: boolean;
  /**
   * How long a job following an upload as it streams waits for its next piece before it gives
   * its place back and waits, set aside, for the upload to end.
   */
  uploadStallMs: number;
  /** Media's storage quota (the same variable), which the MP3s a worker makes count against. */
  maxStoredBytesPerUser: number;
  /**
   * Media's upload time limit (the same variable): an upload marked as streaming for longer
   * than this has lost its media process, and a worker following it stops waiting.
   */
  uploadTimeoutMs: number;
}

export function loadWorkerConfig(source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const env = readEnv(source);
  return {
    ...readProcessBasics(source, 'worker'),
    ...readDatabaseSettings(source),
    ...readBrokerSettings(source),
    ffmpegPath: env.string('FFMPEG_PATH', 'ffmpeg'),
    ffprobePath: env.string('FFPROBE_PATH', 'ffprobe'),
    concurrency: env.int('WORKER_CONCURRENCY', availableParallelism(), { min: 1, max: 64 }),
    jobTimeoutMs: env.int('WORKER_JOB_TIMEOUT_SECONDS', 1500, { min: 1 }) * 1000,
    maxAttempts: env.int('WORKER_MAX_ATTEMPTS', 3, { min: 1, max: 20 }),
    retryBaseMs: env.int('WORKER_RETRY_BASE_MS', 2000, { min: 10 }),
    tempDir: env.string('WORKER_TEMP_DIR', tmpdir()),
    maxMediaSeconds: env.int('MAX_MEDIA_SECONDS', 4 * 3600, { min: 1 }),
    drainMs: env.int('WORKER_DRAIN_SECONDS', 60, { min: 0 }) * 1000,
    realtime: env.bool('WORKER_REALTIME', true),
    uploadStallMs: 1000 * env.int('WORKER_UPLOAD_STALL_SECONDS', 5, { min: 1 }),
    uploadTimeoutMs: sharedLimits.uploadTimeoutMs(env),
    maxStoredBytesPerUser: sharedLimits.maxStoredBytesPerUser(env),
  };
}
