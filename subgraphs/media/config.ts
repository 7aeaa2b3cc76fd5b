import { readBrokerSettings, type BrokerSettings } from '../../lib/broker/readBrokerSettings.js';
import { readEnv } from '../../lib/platform/readEnv.js';
import {
  readDownloadLinkSettings,
  type DownloadLinkSettings,
} from '../../lib/platform/createDownloadTokens.js';
import { readServiceBasics, type ServiceBasics } from '../../lib/server/readServiceBasics.js';
import {
  readTokenVerification,
  type TokenVerificationConfig,
} from '../../lib/server/readTokenVerification.js';
import { sharedLimits } from '../../lib/platform/sharedLimits.js';

export interface MediaConfig extends ServiceBasics, BrokerSettings {
  tokens: TokenVerificationConfig;
  maxUploadBytes: number;
  /**
   * Longest an upload may take (then 408). Also how the janitor tells an upload that is still
   * streaming from one abandoned by a crash: nothing unfinished can be older than this.
   */
  uploadTimeoutMs: number;
  /**
   * Bytes an upload must have sent before its conversion may begin while it still streams
   * (realtime conversion). A worker can read nothing of an upload until whole GridFS chunks
   * are in, and an upload that sends a head and then trickles would hold a worker waiting.
   */
  realtimeMinBytes: number;
  /**
   * How long an unfinished resumable upload (tus, `/uploads/`) is kept from its creation
   * (`Upload-Expires`); then the janitor removes its chunks and gives back the room it held.
   */
  resumableUploadExpiryMs: number;
  /** The router's public base URL, for download links. */
  downloads: DownloadLinkSettings;
  quotas: MediaQuotas;
}

/** What one user may store and send. */
export interface MediaQuotas {
  /**
   * Bytes of videos and MP3s one user may keep, counting what uploads in flight and MP3s being
   * made hold (lib/stores/storageQuota.ts); an upload or MP3 that would pass it is refused.
   */
  maxStoredBytesPerUser: number;
  uploadsPerMinute: number;
  /** deleteVideo calls per user per minute. */
  mutationsPerMinute: number;
}

export function loadMediaConfig(source: NodeJS.ProcessEnv = process.env): MediaConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'media', source),
    ...readBrokerSettings(source),
    tokens: readTokenVerification(env),
    maxUploadBytes: sharedLimits.maxUploadBytes(env),
    uploadTimeoutMs: sharedLimits.uploadTimeoutMs(env),
    realtimeMinBytes: env.int('REALTIME_MIN_BYTES', 2 ** 20, { min: 0 }),
    resumableUploadExpiryMs: 1000 * env.int('RESUMABLE_UPLOAD_EXPIRY_SECONDS', 86_400, { min: 1 }),
    quotas: {
      maxStoredBytesPerUser: sharedLimits.maxStoredBytesPerUser(env),
      uploadsPerMinute: env.int('UPLOADS_PER_MINUTE', 10, { min: 1 }),
      mutationsPerMinute: sharedLimits.mutationsPerMinute(env),
    },
    downloads: readDownloadLinkSettings(env, source),
  };
}
