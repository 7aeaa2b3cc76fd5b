import type { WebhookAttempt, WebhookDelivery } from '../createReelfluxClient.js';
import { formatTime } from './describeWebhookEndpoint.js';

/** Whether the receiver took the webhook: a 2xx answer, as the sender counts it. */
export function isAccepted(attempt: WebhookAttempt): boolean {
  return attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
}

/** `HTTP 200 in 12 ms`, `HTTP 302 (redirect not followed (302)) in 8 ms`, `no answer: timeout after 10000 ms`. */
export function describeWebhookAttempt(attempt: WebhookAttempt): string {
  if (attempt.statusCode === null) {
    return `no answer: ${attempt.error ?? 'unknown error'} after ${attempt.durationMs} ms`;
  }
  const why = attempt.error ? ` (${attempt.error})` : '';
  return `HTTP ${attempt.statusCode}${why} in ${attempt.durationMs} ms`;
}

/**
 * A delivery as `webhooks deliveries` shows it: id, state, type and when it was made, then
 * each attempt with its time, and the next one's time while it is pending.
 */
export function describeWebhookDelivery(delivery: WebhookDelivery): string {
  const lines = [
    `${delivery.id}  ${delivery.status.padEnd(9)}  ${delivery.type}  ${formatTime(delivery.createdAt)}`,
    ...delivery.attempts.map(
      (attempt) => `  ${formatTime(attempt.at)}  ${describeWebhookAttempt(attempt)}`,
    ),
  ];
  if (delivery.status === 'PENDING' && delivery.nextAttemptAt) {
    lines.push(`  next attempt at ${formatTime(delivery.nextAttemptAt)}`);
  }
  return lines.join('\n');
}
