import { filenameParameters } from '../../lib/contracts/filenameParameters.js';

export type RangeRequest = { start: number; end: number } | 'unsatisfiable' | undefined;

/**
 * One `Range: bytes=…` header against a file of `size` bytes (RFC 9110 §14): `a-b`, `a-` and
 * the suffix form `-n`. Returns undefined when the whole file should be sent (no header, a unit
 * other than bytes, several ranges, or a malformed value — all allowed to be ignored), and
 * 'unsatisfiable' for a range that starts past the end (answered 416).
 */
export function parseRange(header: string | undefined, size: number): RangeRequest {
  if (!header) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match) return undefined;
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return undefined;
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return 'unsatisfiable';
    return size === 0 ? 'unsatisfiable' : { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (last !== '' && Number(last) < start) return undefined;
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * `Content-Disposition: attachment` for any name: an ASCII fallback in `filename` (quotes,
 * backslashes and non-ASCII replaced) and the exact name in RFC 6266/8187 `filename*`.
 */
export function contentDisposition(filename: string): string {
  return `attachment; ${filenameParameters(filename)}`;
}
