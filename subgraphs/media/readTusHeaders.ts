import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode } from '../../lib/contracts/errors.js';
import { parseMp3Options, type Mp3Options } from '../../lib/contracts/mp3Options.js';

/** The protocol version served, and the extensions (tus 1.0.0). */
export const TUS_VERSION = '1.0.0';
export const TUS_EXTENSIONS = [
  'creation',
  'creation-with-upload',
  'expiration',
  'termination',
  'checksum',
] as const;
/** Upload-Checksum algorithms, by tus name: node's hash of the same name. */
export const TUS_CHECKSUM_ALGORITHMS = ['sha1', 'sha256', 'md5'] as const;
export type TusChecksumAlgorithm = (typeof TUS_CHECKSUM_ALGORITHMS)[number];
export const TUS_CONTENT_TYPE = 'application/offset+octet-stream';

/** A request the tus route refuses: its code (and so its status) and why. */
export class TusRefusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const header = (headers: IncomingHttpHeaders, name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** A non-negative integer header, exactly as tus writes one; undefined when absent. */
export function readByteCount(headers: IncomingHttpHeaders, name: string): number | undefined {
  const value = header(headers, name);
  if (value === undefined) return undefined;
  if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(Number(value))) {
    throw new TusRefusal(ErrorCode.BAD_REQUEST, `${name} must be a non-negative integer`);
  }
  return Number(value);
}

/** Refuses any protocol version but 1.0.0 (tus: 412 with Tus-Version). */
export function expectTusVersion(headers: IncomingHttpHeaders): void {
  if (header(headers, 'tus-resumable') !== TUS_VERSION) {
    throw new TusRefusal(
      ErrorCode.TUS_VERSION_UNSUPPORTED,
      `Send Tus-Resumable: ${TUS_VERSION}, the only version served`,
    );
  }
}

/** What a creation request asks for, read from its headers. */
export interface TusCreation {
  length: number;
  filename: string;
  mp3: Mp3Options;
  /** Upload-Metadata as sent, for HEAD to echo. */
  metadata: string;
}

/**
 * Reads a creation request. Upload-Length is required (a deferred length is refused: the size
 * limit and the quota are judged at creation). Upload-Metadata may carry `filename` and `mp3`,
 * the MP3 options as JSON (the `Mp3Options` input of `uploadVideo`), each base64 as tus has it.
 */
export function readTusCreation(headers: IncomingHttpHeaders): TusCreation {
  if (header(headers, 'upload-defer-length') !== undefined) {
    throw new TusRefusal(
      ErrorCode.BAD_REQUEST,
      'Upload-Defer-Length is not served: send Upload-Length, the file size',
    );
  }
  const length = readByteCount(headers, 'upload-length');
  if (length === undefined) {
    throw new TusRefusal(ErrorCode.BAD_REQUEST, 'Upload-Length is required');
  }
  const metadata = header(headers, 'upload-metadata') ?? '';
  const pairs = parseUploadMetadata(metadata);
  let mp3: unknown;
  const mp3Json = pairs.get('mp3');
  if (mp3Json !== undefined) {
    try {
      mp3 = JSON.parse(mp3Json);
    } catch {
      throw new TusRefusal(ErrorCode.BAD_REQUEST, 'Upload-Metadata mp3 must be JSON');
    }
  }
  return {
    length,
    filename: pairs.get('filename') ?? 'upload',
    // Throws BAD_USER_INPUT naming the field, as uploadVideo does.
    mp3: parseMp3Options(mp3),
    metadata,
  };
}

/** Upload-Metadata: `key base64value` pairs separated by commas; a value may be absent. */
export function parseUploadMetadata(text: string): Map<string, string> {
  const pairs = new Map<string, string>();
  if (text.trim() === '') return pairs;
  for (const pair of text.split(',')) {
    const [key, value, extra] = pair.trim().split(' ');
    if (!key || extra !== undefined || !/^[\x21-\x7e]+$/.test(key) || pairs.has(key)) {
      throw new TusRefusal(ErrorCode.BAD_REQUEST, `Upload-Metadata is malformed near "${pair}"`);
    }
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      throw new TusRefusal(ErrorCode.BAD_REQUEST, `Upload-Metadata ${key} is not base64`);
    }
    pairs.set(key, Buffer.from(value ?? '', 'base64').toString('utf8'));
  }
  return pairs;
}

/** What a PATCH (or a creation with its first bytes) says of its body. */
export interface TusPatch {
  offset: number;
  /** Content-Length, when sent (a chunked body has none). */
  bytes: number | undefined;
  checksum: { algorithm: TusChecksumAlgorithm; digest: string } | undefined;
}

/** Reads a PATCH's headers; `offset` is given for a creation with upload (there, 0). */
export function readTusPatch(headers: IncomingHttpHeaders, offset?: number): TusPatch {
  const contentType = header(headers, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (contentType !== TUS_CONTENT_TYPE) {
    throw new TusRefusal(
      ErrorCode.UNSUPPORTED_CONTENT_TYPE,
      `Send the bytes as Content-Type: ${TUS_CONTENT_TYPE}`,
    );
  }
  const stated = offset ?? readByteCount(headers, 'upload-offset');
  if (stated === undefined)
    throw new TusRefusal(ErrorCode.BAD_REQUEST, 'Upload-Offset is required');
  return {
    offset: stated,
    bytes: readByteCount(headers, 'content-length'),
    checksum: readChecksum(header(headers, 'upload-checksum')),
  };
}

function readChecksum(value: string | undefined): TusPatch['checksum'] {
  if (value === undefined) return undefined;
  const [algorithm, digest, extra] = value.trim().split(' ');
  if (!TUS_CHECKSUM_ALGORITHMS.includes(algorithm as TusChecksumAlgorithm)) {
    throw new TusRefusal(
      ErrorCode.BAD_REQUEST,
      `Upload-Checksum algorithm must be one of ${TUS_CHECKSUM_ALGORITHMS.join(', ')}`,
    );
  }
  if (!digest || extra !== undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(digest)) {
    throw new TusRefusal(ErrorCode.BAD_REQUEST, 'Upload-Checksum must be "<algorithm> <base64>"');
  }
  return { algorithm: algorithm as TusChecksumAlgorithm, digest };
}
