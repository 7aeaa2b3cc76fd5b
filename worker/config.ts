import { availableParallelism, tmpdir } from 'node:os';
import { LOG_LEVELS, type LogLevel } from '../lib/platform/logger.js';
import { processPort } from '../lib/contracts/subgraphs.js';
import { readEnv } from '../lib/platform/readEnv.js';
import { readUrlWithPassword } from '../lib/platform/readSecret.js';

export interface WorkerConfig {
  host: string;
  /** Health and metrics only. */
  port: number;
  logLevel: LogLevel;
  mongodbUri: string;
  dbPrefix: string;
  amqpUrl: string;
  amqpNamePrefix: string;
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
}

export function loadWorkerConfig(source: NodeJS.ProcessEnv = process.env): WorkerConfig {
  const env = readEnv(source);
  return {
    host: env.string('HOST', '0.0.0.0'),
    port: processPort(source, 'worker'),
    logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    mongodbUri: readUrlWithPassword(source, 'MONGODB_URI', 'MONGODB_PASSWORD'),
    dbPrefix: env.string('DB_PREFIX', 'reelflux_'),
    amqpUrl: readUrlWithPassword(source, 'AMQP_URL', 'AMQP_PASSWORD'),
    amqpNamePrefix: env.string('AMQP_NAME_PREFIX', ''),
    ffmpegPath: env.string('FFMPEG_PATH', 'ffmpeg'),
    ffprobePath: env.string('FFPROBE_PATH', 'ffprobe'),
    concurrency: env.int('WORKER_CONCURRENCY', availableParallelism(), { min: 1, max: 64 }),
    jobTimeoutMs: env.int('WORKER_JOB_TIMEOUT_SECONDS', 1500, { min: 1 }) * 1000,
    maxAttempts: env.int('WORKER_MAX_ATTEMPTS', 3, { min: 1, max: 20 }),
    retryBaseMs: env.int('WORKER_RETRY_BASE_MS', 2000, { min: 10 }),
    tempDir: env.string('WORKER_TEMP_DIR', tmpdir()),
    maxMediaSeconds: env.int('MAX_MEDIA_SECONDS', 4 * 3600, { min: 1 }),
    drainMs: env.int('WORKER_DRAIN_SECONDS', 60, { min: 0 }) * 1000,
  };
}
