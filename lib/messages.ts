import { type Mp3Options, parseMp3Options } from './mp3Options.js';

/**
 * The messages REELFLUX processes exchange through RabbitMQ, each JSON with `type` and
 * `version`. Consumers validate from `unknown` with the parsers below; a message that does not
 * parse is dead-lettered, never retried. The README has the same table for humans.
 */
export const EVENTS_EXCHANGE = 'reelflux.events';

export interface VideoUploaded {
  type: 'video.uploaded';
  version: 1;
  videoId: string;
  ownerId: string;
  filename: string;
  bytes: number;
  /** What the uploader asked for; already validated by media. */
  mp3: Mp3Options;
}

export interface VideoDeleted {
  type: 'video.deleted';
  version: 1;
  videoId: string;
  ownerId: string;
}

export type EventMessage = VideoUploaded | VideoDeleted;

export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError';
}

export function parseVideoUploaded(raw: unknown): VideoUploaded {
  const m = expectRecord(raw, 'video.uploaded');
  return {
    type: 'video.uploaded',
    version: 1,
    videoId: expectId(m.videoId, 'videoId'),
    ownerId: expectId(m.ownerId, 'ownerId'),
    filename: expectString(m.filename, 'filename'),
    bytes: expectNonNegative(m.bytes, 'bytes'),
    mp3: parseMp3Options(m.mp3 ?? {}),
  };
}

export function parseVideoDeleted(raw: unknown): VideoDeleted {
  const m = expectRecord(raw, 'video.deleted');
  return {
    type: 'video.deleted',
    version: 1,
    videoId: expectId(m.videoId, 'videoId'),
    ownerId: expectId(m.ownerId, 'ownerId'),
  };
}

function expectRecord(raw: unknown, type: string): Record<string, unknown> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new InvalidMessageError('message is not a JSON object');
  }
  const record = raw as Record<string, unknown>;
  if (record.type !== type)
    throw new InvalidMessageError(`expected type ${type}, got ${String(record.type)}`);
  if (record.version !== 1)
    throw new InvalidMessageError(`unsupported version ${String(record.version)}`);
  return record;
}

function expectString(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new InvalidMessageError(`${field} must be a string`);
  return value;
}

function expectId(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^[0-9a-f]{24}$/.test(value)) {
    throw new InvalidMessageError(`${field} must be a 24-digit hex id`);
  }
  return value;
}

function expectNonNegative(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidMessageError(`${field} must be a non-negative number`);
  }
  return value;
}
