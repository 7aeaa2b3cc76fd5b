import type { WebhookEndpoint } from '../createReelfluxClient.js';
import { eventName } from './arguments.js';

/**
 * An endpoint as `webhooks ls` shows it: id, state, events and URL on one line, then why it
 * is off, since when it fails, and until when a rotated-out secret still signs.
 */
export function describeWebhookEndpoint(endpoint: WebhookEndpoint, now = Date.now()): string {
  const lines = [
    `${endpoint.id}  ${endpoint.enabled ? 'enabled ' : 'disabled'}  ${endpoint.events.map(eventName).join(',')}  ${endpoint.url}`,
  ];
  if (!endpoint.enabled && endpoint.disabledReason) {
    lines.push(`  disabled: ${endpoint.disabledReason}`);
  }
  if (endpoint.failingSince) lines.push(`  failing since ${formatTime(endpoint.failingSince)}`);
  const previous = endpoint.previousSecretExpiresAt;
  if (previous && Date.parse(previous) > now) {
    lines.push(`  the previous secret also signs until ${formatTime(previous)}`);
  }
  return lines.join('\n');
}

/** A timestamp from the API, to the second: `2026-12-07T19:30:00Z`. */
export function formatTime(iso: string): string {
  return iso.replace(/\.\d+Z$/, 'Z');
}
