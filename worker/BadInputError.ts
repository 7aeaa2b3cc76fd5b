import type { ConversionErrorCode } from '../lib/contracts/errorCodes.js';

/**
 * The input itself is at fault (not decodable, no audio, trim outside it): the conversion
 * fails at once with `code` and is never retried. Every other error is taken as transient.
 */
export class BadInputError extends Error {
  override name = 'BadInputError';
  constructor(
    readonly code: ConversionErrorCode,
    message: string,
  ) {
    super(message);
  }
}
