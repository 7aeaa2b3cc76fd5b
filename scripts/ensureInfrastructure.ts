import { join } from 'node:path';
import { DEPLOY_KEYS_DIR, keyFiles } from './ensureDeployKeys.js';
import { ensureFfmpeg } from './infrastructure/ensureFfmpeg.js';
import { ensureJwtKey, ensureSecret } from './infrastructure/ensureKeys.js';
import { ensureMailpit } from './infrastructure/ensureMailpit.js';
import { ensureMongo } from './infrastructure/ensureMongo.js';
import { ensureRabbitMq } from './infrastructure/ensureRabbitMq.js';
import type { Say } from './infrastructure/hostTools.js';

const DEFAULT_DOWNLOAD_SECRET = join(DEPLOY_KEYS_DIR, keyFiles.downloadTokenSecret);
const DEFAULT_HOP_SECRET = join(DEPLOY_KEYS_DIR, keyFiles.internalHopSecret);
const DEFAULT_VAPID_SECRET = join(DEPLOY_KEYS_DIR, keyFiles.vapidSecret);

export interface Infrastructure {
  mongodbUri: string;
  amqpUrl: string;
  ffmpegPath: string;
  ffprobePath: string;
  /** Set when the key comes from a file we manage; unset when JWT_PRIVATE_KEY* is configured. */
  jwtPrivateKeyFile: string | undefined;
  /** Likewise for media's download-link secret (DOWNLOAD_TOKEN_SECRET*). */
  downloadSecretFile: string | undefined;
  /** Likewise for the router-to-subgraph signature (INTERNAL_HOP_SECRET*). */
  hopSecretFile: string | undefined;
  /** Likewise for the notification service's browser-push key (VAPID_SECRET*). */
  vapidSecretFile: string | undefined;
  /** Where notification mail goes (SMTP_URL, else a local Mailpit). */
  smtpUrl: string;
  /** Where a person or a test reads that mail (Mailpit's web UI and API); '' if unknown. */
  mailWebUrl: string;
  /** Stops what this call started (FerretDB, Mailpit); leaves what it found running alone. */
  stop: (this: void) => Promise<void>;
}

/**
 * Provides MongoDB (wire protocol), RabbitMQ, ffmpeg, a mail server and a JWT signing key, using what the
 * environment names first and starting or installing only what is missing. Idempotent: a
 * second call finds everything up and returns in well under a second.
 */
export async function ensureInfrastructure(
  env: NodeJS.ProcessEnv = process.env,
  say: Say = () => {},
): Promise<Infrastructure> {
  // One after another: installing ffmpeg and building FerretDB block the event loop for
  // minutes on a fresh machine, which would time out a connection check running alongside.
  const ffmpeg = ensureFfmpeg(env, say);
  const amqpUrl = await ensureRabbitMq(env, say);
  const mongo = await ensureMongo(env, say);
  const mail = await ensureMailpit(env, say);
  return {
    mongodbUri: mongo.uri,
    amqpUrl,
    ...ffmpeg,
    jwtPrivateKeyFile: ensureJwtKey(env, say),
    downloadSecretFile: ensureSecret(env, 'DOWNLOAD_TOKEN_SECRET', DEFAULT_DOWNLOAD_SECRET),
    hopSecretFile: ensureSecret(env, 'INTERNAL_HOP_SECRET', DEFAULT_HOP_SECRET),
    vapidSecretFile: ensureSecret(env, 'VAPID_SECRET', DEFAULT_VAPID_SECRET),
    smtpUrl: mail.smtpUrl,
    mailWebUrl: mail.webUrl,
    stop: async () => {
      await mail.stop();
      await mongo.stop();
    },
  };
}

/** The variables that hand this infrastructure to the stack's processes. */
export function infrastructureEnv(infra: Omit<Infrastructure, 'stop'>): Record<string, string> {
  return {
    MONGODB_URI: infra.mongodbUri,
    AMQP_URL: infra.amqpUrl,
    FFMPEG_PATH: infra.ffmpegPath,
    FFPROBE_PATH: infra.ffprobePath,
    SMTP_URL: infra.smtpUrl,
    ...(infra.jwtPrivateKeyFile ? { JWT_PRIVATE_KEY_FILE: infra.jwtPrivateKeyFile } : {}),
    ...(infra.downloadSecretFile ? { DOWNLOAD_TOKEN_SECRET_FILE: infra.downloadSecretFile } : {}),
    ...(infra.hopSecretFile ? { INTERNAL_HOP_SECRET_FILE: infra.hopSecretFile } : {}),
    ...(infra.vapidSecretFile ? { VAPID_SECRET_FILE: infra.vapidSecretFile } : {}),
  };
}
