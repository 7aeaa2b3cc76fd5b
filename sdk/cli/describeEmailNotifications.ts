import type { EmailNotifications } from '../createReelfluxClient.js';
import { eventName } from './arguments.js';

/**
 * The notification address as `reelflux email` shows it: the address, verified or not, on or
 * off, and its events on one line; while unverified, how to prove it below.
 */
export function describeEmailNotifications(settings: EmailNotifications | null): string {
  if (!settings) return '(no notification address: `reelflux email set <address>` sets one)';
  const { address, verified, enabled, events } = settings;
  const line = `${address}  ${verified ? 'verified' : 'unverified'}  ${enabled ? 'on' : 'off'}  ${events.map(eventName).join(',')}`;
  return verified
    ? line
    : `${line}\n  nothing is mailed until \`reelflux email verify <code>\` with the code mailed to it`;
}
