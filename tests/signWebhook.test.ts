import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { newWebhookSecret, signWebhook } from '../subgraphs/notification/webhooks/signWebhook.js';

const body = JSON.stringify({ type: 'conversion.done', data: { id: 'c1', title: 'Café ☕' } });

describe('signWebhook', () => {
  it('makes secrets in the Standard Webhooks form, 32 random bytes each', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(secret);
  });

  it('writes the id, the timestamp in seconds and the content type', () => {
    const headers = signWebhook({
      id: 'msg_1',
      timestamp: new Date('2030-01-02T03:04:05.678Z'),
      body,
      secrets: [newWebhookSecret()],
    });
    expect(headers).toMatchObject({
      'webhook-id': 'msg_1',
      'webhook-timestamp': String(Date.UTC(2030, 0, 2, 3, 4, 5) / 1000),
      'content-type': 'application/json',
    });
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
  });

  it('signs as the reference library does, so its receivers accept the body', () => {
    const secret = newWebhookSecret();
    const timestamp = new Date();
    const headers = signWebhook({ id: 'msg_2', timestamp, body, secrets: [secret] });
    const reference = new Webhook(secret);
    expect(headers['webhook-signature']).toBe(reference.sign('msg_2', timestamp, body));
    expect(reference.verify(body, headers)).toEqual(JSON.parse(body));
  });

  it('signs with both secrets during a rotation, so either verifies', () => {
    const [old, fresh] = [newWebhookSecret(), newWebhookSecret()];
    const headers = signWebhook({
      id: 'msg_3',
      timestamp: new Date(),
      body,
      secrets: [fresh, old],
    });
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2);
    for (const secret of [old, fresh]) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow(
      WebhookVerificationError,
    );
  });

  it('fails verification when the body, id or timestamp changed on the way', () => {
    const secret = newWebhookSecret();
    const timestamp = new Date();
    const headers = signWebhook({ id: 'msg_4', timestamp, body, secrets: [secret] });
    const receiver = new Webhook(secret);
    const tampered = body.replace('c1', 'c2');
    expect(() => receiver.verify(tampered, headers)).toThrow(WebhookVerificationError);
    expect(() => receiver.verify(body, { ...headers, 'webhook-id': 'msg_5' })).toThrow(
      WebhookVerificationError,
    );
    const later = String(Math.floor(timestamp.getTime() / 1000) + 1);
    expect(() => receiver.verify(body, { ...headers, 'webhook-timestamp': later })).toThrow(
      WebhookVerificationError,
    );
  });

  it('accepts a secret without its prefix, as the reference library does', () => {
    const secret = newWebhookSecret();
    const timestamp = new Date();
    const bare = signWebhook({ id: 'm', timestamp, body, secrets: [secret.slice(6)] });
    expect(bare).toEqual(signWebhook({ id: 'm', timestamp, body, secrets: [secret] }));
  });

  it('refuses to sign without a secret, or with one that is not base64', () => {
    const timestamp = new Date();
    expect(() => signWebhook({ id: 'm', timestamp, body, secrets: [] })).toThrow(/secret/);
    for (const secret of ['whsec_', 'whsec_not base64!', 'whsec_abc']) {
      expect(() => signWebhook({ id: 'm', timestamp, body, secrets: [secret] }), secret).toThrow(
        /base64/,
      );
    }
  });
});
