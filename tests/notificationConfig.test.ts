import { describe, expect, it } from 'vitest';
import { ConfigError } from '../lib/platform/readEnv.js';
import { loadNotificationConfig } from '../subgraphs/notification/config.js';

const BASE: NodeJS.ProcessEnv = {
  MONGODB_URI: 'mongodb://127.0.0.1:27017',
  AMQP_URL: 'amqp://127.0.0.1:5672',
  INTERNAL_HOP_SECRET: 'h'.repeat(32),
  DOWNLOAD_TOKEN_SECRET: 'd'.repeat(32),
};

describe('loadNotificationConfig', () => {
  it('retries a webhook for more than a day by default, even with every wait 20 % short', () => {
    const { retryScheduleMs } = loadNotificationConfig(BASE).webhooks;
    const total = retryScheduleMs.reduce((sum, ms) => sum + ms, 0);
    expect(total * 0.8).toBeGreaterThan(24 * 3600 * 1000);
    expect(retryScheduleMs[0]).toBe(5_000);
  });

  it('refuses a schedule it cannot read, naming the variable', () => {
    for (const bad of ['5,x', '-1', '5,,5', String(8 * 86400)]) {
      expect(() =>
        loadNotificationConfig({ ...BASE, WEBHOOK_RETRY_SCHEDULE_SECONDS: bad }),
      ).toThrow(ConfigError);
    }
  });

  it('keeps loopback and plain http off, and push off without its secret', () => {
    const config = loadNotificationConfig(BASE);
    expect(config.webhooks).toMatchObject({ allowHttp: false, allowPrivateNetworks: false });
    expect(config.push.vapid).toBeUndefined();
    expect(config.email.smtpUrl).toBeUndefined();
  });

  it('derives one VAPID key pair from one secret, the same in every replica', () => {
    const env = { ...BASE, VAPID_SECRET: 'v'.repeat(48) };
    const one = loadNotificationConfig(env).push.vapid;
    const two = loadNotificationConfig(env).push.vapid;
    expect(one?.publicKey).toMatch(/^[A-Za-z0-9_-]{87}$/);
    expect(two).toEqual(one);
    expect(() => loadNotificationConfig({ ...env, VAPID_SUBJECT: 'ftp://x' })).toThrow(ConfigError);
  });
});
