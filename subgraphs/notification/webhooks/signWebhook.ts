import { createHmac, randomBytes } from 'node:crypto';

/** Standard Webhooks writes a signing secret as this prefix and the key in base64. */
const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A new signing secret: `whsec_` and 32 random bytes in base64, as Standard Webhooks has it. */
export function newWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

export interface SignWebhookInput {
  /** The message's id, the same on every retry of it, so that a receiver can drop repeats. */
  id: string;
  /** When the message is sent; receivers refuse a signature more than a few minutes off. */
  timestamp: Date;
  /** The body exactly as sent: the signature covers its bytes (UTF-8), not its JSON meaning. */
  body: string;
  /** Every secret the endpoint holds now: during a rotation the new one and the old one. */
  secrets: readonly string[];
}

/**
 * The Standard Webhooks headers for one request: `webhook-id`, `webhook-timestamp` (unix
 * seconds) and `webhook-signature`, a `v1,<base64 HMAC-SHA256>` of `${id}.${timestamp}.${body}`
 * for each secret, separated by spaces. Signing with every secret lets a receiver swap its
 * secret at its own pace during a rotation: it accepts the request if any signature matches.
 * Throws on a malformed secret or none, which are faults of the caller, not of the receiver.
 */
export function signWebhook(input: SignWebhookInput): Record<string, string> {
  if (input.secrets.length === 0) throw new Error('signWebhook needs at least one secret');
  const seconds = Math.floor(input.timestamp.getTime() / 1000);
  const signed = `${input.id}.${seconds}.${input.body}`;
  const signatures = input.secrets.map(
    (secret) =>
      `v1,${createHmac('sha256', secretKey(secret)).update(signed, 'utf8').digest('base64')}`,
  );
  return {
    'webhook-id': input.id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': signatures.join(' '),
    'content-type': 'application/json',
  };
}

/**
 * The key a secret stands for. Node's base64 decoder skips what is not base64 rather than
 * failing, so a mangled secret would sign with a key the receiver does not hold: it is
 * checked strictly here instead.
 */
function secretKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (encoded === '' || !BASE64.test(encoded)) {
    throw new Error(`A webhook secret is ${SECRET_PREFIX} and a key in base64`);
  }
  return Buffer.from(encoded, 'base64');
}
