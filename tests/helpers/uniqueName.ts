import { randomBytes } from 'node:crypto';

/** A short name no other test (or test run) uses: database prefixes, emails, queues. */
export function uniqueName(kind: string): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}_${kind}`;
}
