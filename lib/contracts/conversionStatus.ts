// Imports nothing: the SDK shares this file with the server (tests/sdk.test.ts checks both).

/** Every state of a conversion; docs/architecture.md draws how one leads to another. */
export const CONVERSION_STATUSES = [
  'QUEUED',
  'RUNNING',
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
] as const;
export type ConversionStatus = (typeof CONVERSION_STATUSES)[number];

/** The states a conversion never leaves: its subscription ends, its job is done. */
export const FINAL_STATUSES: ReadonlySet<FinalStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'CANCELLED',
]);
export type FinalStatus = Extract<ConversionStatus, 'SUCCEEDED' | 'FAILED' | 'CANCELLED'>;

export const isFinalStatus = (status: string): boolean => FINAL_STATUSES.has(status as FinalStatus);
