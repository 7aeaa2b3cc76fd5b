import type { ReelfluxErrorCode } from '../ReelfluxError.js';

/** Exit codes, for scripts (also in `reelflux --help` and docs/sdk-and-cli.md). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  UNAUTHENTICATED: 3,
  NOT_FOUND: 4,
  UNAVAILABLE: 5,
  INTERRUPTED: 130,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** How `reelflux --help` names each exit code. */
export const EXIT_MEANINGS: Record<ExitCode, string> = {
  0: 'done',
  1: 'failed',
  2: 'usage',
  3: 'not logged in',
  4: 'not found',
  5: 'unavailable',
  130: 'interrupted',
};

/** What each failure means for a script: retry later, log in, fix the call, or give up. */
export function exitCodeFor(code: ReelfluxErrorCode): ExitCode {
  switch (code) {
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return EXIT.UNAUTHENTICATED;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'BAD_USER_INPUT':
    case 'BAD_REQUEST':
      return EXIT.USAGE;
    case 'NETWORK_ERROR':
    case 'SERVICE_UNAVAILABLE':
    case 'CONNECTION_CLOSED':
      return EXIT.UNAVAILABLE;
    case 'CANCELLED':
      return EXIT.INTERRUPTED;
    default:
      return EXIT.FAILED;
  }
}
