import { readBrokerSettings, type BrokerSettings } from '../../lib/broker/readBrokerSettings.js';
import {
  readDownloadLinkSettings,
  type DownloadLinkSettings,
} from '../../lib/platform/createDownloadTokens.js';
import { ConfigError, readEnv, type EnvReader } from '../../lib/platform/readEnv.js';
import { readSecretIfSet } from '../../lib/platform/readSecret.js';
import { sharedLimits } from '../../lib/platform/sharedLimits.js';
import { vapidKeysFromSecret, type VapidKeys } from './push/sendPush.js';
import { readServiceBasics, type ServiceBasics } from '../../lib/server/readServiceBasics.js';
import {
  readTokenVerification,
  type TokenVerificationConfig,
} from '../../lib/server/readTokenVerification.js';

/** How webhooks are sent, retried and bounded. */
export interface WebhookSettings {
  /**
   * WEBHOOK_RETRY_SCHEDULE_SECONDS: the wait before each retry after a failed attempt (each
   * varied by ±20 %); a delivery fails for good after the last.
   */
  retryScheduleMs: readonly number[];
  /** WEBHOOK_TIMEOUT_SECONDS: one attempt's limit, connection and answer. */
  timeoutMs: number;
  /** WEBHOOK_ALLOW_HTTP: plain http URLs (https only otherwise). */
  allowHttp: boolean;
  /**
   * WEBHOOK_ALLOW_PRIVATE_NETWORKS: loopback, private and link-local receivers. Off in
   * production: a webhook URL is the user's to choose, and must not reach inside the network.
   */
  allowPrivateNetworks: boolean;
  /** WEBHOOK_CONCURRENCY: attempts in flight in this process. */
  concurrency: number;
  /** WEBHOOK_CONCURRENCY_PER_ENDPOINT: attempts in flight to one endpoint in this process. */
  concurrencyPerEndpoint: number;
  /** WEBHOOK_ENDPOINTS_PER_USER */
  endpointsPerUser: number;
  /** WEBHOOK_TESTS_PER_HOUR: test sends per user per hour. */
  testsPerHour: number;
  /** WEBHOOK_DISABLE_AFTER_DAYS: an endpoint failing this long is turned off. */
  disableAfterMs: number;
}

/** How notification mail is sent. */
export interface EmailSettingsConfig {
  /** SMTP_URL (`smtp://user:password@host:port`); unset: no mail (addresses are refused). */
  smtpUrl: string | undefined;
  /** MAIL_FROM */
  from: string;
  /** EMAILS_PER_HOUR: mails to one user per hour, verification mails included. */
  perHour: number;
}

/** How browser push is sent. */
export interface PushSettings {
  /** From VAPID_SECRET (its SHA-256 is the P-256 key); unset: no push. */
  vapid: VapidKeys | undefined;
  /**
   * PUSH_SERVICE_HOSTS: the push services a browser's subscription may name (a host, or a
   * suffix after a dot). A subscription's endpoint is the browser's to choose, so only these are
   * ever called.
   */
  serviceHosts: readonly string[];
  /** PUSH_ALLOW_HTTP: plain http push services (a local one in tests). */
  allowHttp: boolean;
}

export interface NotificationConfig extends ServiceBasics, BrokerSettings {
  tokens: TokenVerificationConfig;
  /** For the signed download link a notice of a finished MP3 carries. */
  downloads: DownloadLinkSettings;
  webhooks: WebhookSettings;
  email: EmailSettingsConfig;
  push: PushSettings;
  /** Each user's mutations per minute. */
  mutationsPerMinute: number;
}

// 37.6 hours in all; even if every wait comes out 20 % short, over a day (30 hours).
const DEFAULT_RETRY_SCHEDULE = '5,300,1800,7200,18000,36000,36000,36000';

export function loadNotificationConfig(
  source: NodeJS.ProcessEnv = process.env,
): NotificationConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'notification', source),
    ...readBrokerSettings(source),
    tokens: readTokenVerification(env),
    downloads: readDownloadLinkSettings(env, source),
    webhooks: {
      retryScheduleMs: readSchedule(env),
      timeoutMs: 1000 * env.int('WEBHOOK_TIMEOUT_SECONDS', 10, { min: 1, max: 60 }),
      allowHttp: env.bool('WEBHOOK_ALLOW_HTTP', false),
      allowPrivateNetworks: env.bool('WEBHOOK_ALLOW_PRIVATE_NETWORKS', false),
      concurrency: env.int('WEBHOOK_CONCURRENCY', 64, { min: 1, max: 1000 }),
      concurrencyPerEndpoint: env.int('WEBHOOK_CONCURRENCY_PER_ENDPOINT', 4, { min: 1, max: 100 }),
      endpointsPerUser: env.int('WEBHOOK_ENDPOINTS_PER_USER', 10, { min: 1, max: 1000 }),
      testsPerHour: env.int('WEBHOOK_TESTS_PER_HOUR', 20, { min: 1 }),
      disableAfterMs: 86_400_000 * env.int('WEBHOOK_DISABLE_AFTER_DAYS', 5, { min: 1 }),
    },
    email: {
      smtpUrl: env.optionalString('SMTP_URL'),
      from: env.string('MAIL_FROM', 'REELFLUX <notifications@reelflux.invalid>'),
      perHour: env.int('EMAILS_PER_HOUR', 20, { min: 1 }),
    },
    push: readPush(env, source),
    mutationsPerMinute: sharedLimits.mutationsPerMinute(env),
  };
}

const DEFAULT_PUSH_SERVICES =
  'fcm.googleapis.com,updates.push.services.mozilla.com,push.apple.com,notify.windows.com';

const DEFAULT_VAPID_SUBJECT = 'mailto:notifications@reelflux.invalid';

function vapidKeys(secret: Uint8Array, subject: string): VapidKeys {
  try {
    return vapidKeysFromSecret(secret, subject);
  } catch (error) {
    throw new ConfigError(`VAPID_SUBJECT: ${(error as Error).message}`);
  }
}

function readPush(env: EnvReader, source: NodeJS.ProcessEnv): PushSettings {
  const secret = readSecretIfSet(source, 'VAPID_SECRET');
  return {
    vapid: secret && vapidKeys(secret, env.string('VAPID_SUBJECT', DEFAULT_VAPID_SUBJECT)),
    serviceHosts: env
      .string('PUSH_SERVICE_HOSTS', DEFAULT_PUSH_SERVICES)
      .split(',')
      .map((host) => host.trim().toLowerCase())
      .filter((host) => host.length > 0),
    allowHttp: env.bool('PUSH_ALLOW_HTTP', false),
  };
}

function readSchedule(env: EnvReader): number[] {
  const raw = env.string('WEBHOOK_RETRY_SCHEDULE_SECONDS', DEFAULT_RETRY_SCHEDULE);
  const seconds = raw.split(',').map((part) => Number(part.trim()));
  if (seconds.length > 30 || seconds.some((s) => !Number.isFinite(s) || s < 0.01 || s > 604_800)) {
    throw new ConfigError(
      'WEBHOOK_RETRY_SCHEDULE_SECONDS must list at most 30 waits in seconds, each from 0.01 to 604800, separated by commas',
    );
  }
  return seconds.map((s) => Math.round(s * 1000));
}
