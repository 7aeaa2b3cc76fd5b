import type { EnvReader } from './readEnv.js';

/**
 * Limits that more than one process reads from the same variable, and that must agree: the
 * router and media on an upload's size and time and on a request body's size, media and the
 * workers on an upload's time and a user's storage, conversion and media on their mutation
 * budgets. Each is read here, with one default and one range, for every process that needs it.
 */
export const sharedLimits = {
  /** MAX_UPLOAD_BYTES: the largest uploaded file accepted, in bytes. */
  maxUploadBytes: (env: EnvReader): number => env.int('MAX_UPLOAD_BYTES', 2 * 2 ** 30, { min: 1 }),
  /** UPLOAD_TIMEOUT_SECONDS: the longest one upload may take, in milliseconds. */
  uploadTimeoutMs: (env: EnvReader): number =>
    1000 * env.int('UPLOAD_TIMEOUT_SECONDS', 3600, { min: 5 }),
  /** MAX_REQUEST_BYTES: the largest JSON request body accepted, in bytes. */
  maxRequestBytes: (env: EnvReader): number =>
    env.int('MAX_REQUEST_BYTES', 1_048_576, { min: 1024 }),
  /** MAX_STORED_BYTES_PER_USER: the bytes of videos and MP3s one user may keep. */
  maxStoredBytesPerUser: (env: EnvReader): number =>
    env.int('MAX_STORED_BYTES_PER_USER', 10 * 2 ** 30, { min: 1 }),
  /** MUTATIONS_PER_MINUTE: each user's mutations per minute, counted by each subgraph. */
  mutationsPerMinute: (env: EnvReader): number => env.int('MUTATIONS_PER_MINUTE', 60, { min: 1 }),
};
