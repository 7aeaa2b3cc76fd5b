import {
  CONVERSION_STATUSES,
  FINAL_STATUSES,
  type ConversionStatus,
  type FinalStatus,
} from './conversionStatus.js';
import { type Mp3Options, parseMp3Options } from './mp3Options.js';

/**
 * The messages REELFLUX processes exchange through RabbitMQ, each JSON with `type` and
 * `version`. Consumers validate from `unknown` with the parsers below; a message that does not
 * parse is dead-lettered, never retried. The README has the same table for humans.
 */
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

/**
 * Published once an upload's first bytes are known to be media, while the rest still streams:
 * its conversion can start now (realtime conversion). `video.uploaded` or `video.deleted`
 * follows, whatever becomes of the upload.
 */
export interface VideoUploading {
  type: 'video.uploading';
  version: 1;
  videoId: string;
  ownerId: string;
  filename: string;
  mp3: Mp3Options;
}

export interface VideoDeleted {
  type: 'video.deleted';
  version: 1;
  videoId: string;
  ownerId: string;
}

/** Published at each state change and (throttled) progress of a conversion. */
export interface ConversionUpdated {
  type: 'conversion.updated';
  version: 1;
  conversionId: string;
  videoId: string;
  ownerId: string;
  status: ConversionStatus;
  progress: number | null;
}

/**
 * Published once when a conversion reaches a final state (besides its `conversion.updated`),
 * for the notification service's durable queue. The conversion service publishes again any
 * that did not go out (a broker down at the time), so a subscriber may see one twice.
 */
export interface ConversionFinished {
  type: 'conversion.finished';
  version: 1;
  conversionId: string;
  videoId: string;
  ownerId: string;
  status: FinalStatus;
  /** The video's filename, as uploaded. */
  filename: string;
  /** Why it FAILED (a conversion error code); null otherwise. */
  errorCode: string | null;
  /** The MP3 in media's `audio` bucket when SUCCEEDED; null otherwise. */
  audioId: string | null;
  /** ISO 8601. */
  finishedAt: string;
}

/**
 * Sent to the jobs queue (not the events exchange): one conversion to run. Workers act on
 * `conversionId` alone and read video, owner and options from the conversion record; the other
 * fields are for people reading a queue or the dead-letter queue.
 */
export interface ConversionJob {
  type: 'conversion.job';
  version: 1;
  conversionId: string;
  videoId: string;
  ownerId: string;
  filename: string;
  options: Mp3Options;
}

export type EventMessage =
  VideoUploading | VideoUploaded | VideoDeleted | ConversionUpdated | ConversionFinished;

export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError';
}

/** What every message about a video starts with, checked: its type, version, video and owner. */
function aboutVideo<Type extends string>(raw: unknown, type: Type) {
  const m = expectRecord(raw, type);
  return {
    m,
    head: {
      type,
      version: 1 as const,
      videoId: expectId(m.videoId, 'videoId'),
      ownerId: expectId(m.ownerId, 'ownerId'),
    },
  };
}

export function parseVideoUploaded(raw: unknown): VideoUploaded {
  const { m, head } = aboutVideo(raw, 'video.uploaded');
  return {
    ...head,
    filename: expectString(m.filename, 'filename'),
    bytes: expectNonNegative(m.bytes, 'bytes'),
    mp3: parseMp3Options(m.mp3 ?? {}),
  };
}

/** Either event of an upload's queue: it started (`video.uploading`) or it is stored. */
export function parseUploadEvent(raw: unknown): VideoUploading | VideoUploaded {
  const type = (raw as { type?: unknown } | null)?.type;
  if (type !== 'video.uploading') return parseVideoUploaded(raw);
  const { m, head } = aboutVideo(raw, 'video.uploading');
  return {
    ...head,
    filename: expectString(m.filename, 'filename'),
    mp3: parseMp3Options(m.mp3 ?? {}),
  };
}

export function parseVideoDeleted(raw: unknown): VideoDeleted {
  return aboutVideo(raw, 'video.deleted').head;
}

export function parseConversionJob(raw: unknown): ConversionJob {
  const { m, head } = aboutVideo(raw, 'conversion.job');
  return {
    ...head,
    conversionId: expectId(m.conversionId, 'conversionId'),
    filename: expectString(m.filename, 'filename'),
    options: parseMp3Options(m.options ?? {}),
  };
}

export function parseConversionUpdated(raw: unknown): ConversionUpdated {
  const { m, head } = aboutVideo(raw, 'conversion.updated');
  const status = CONVERSION_STATUSES.find((s) => s === m.status);
  if (!status) throw new InvalidMessageError(`unknown status ${String(m.status)}`);
  const progress =
    m.progress === null || m.progress === undefined
      ? null
      : expectNonNegative(m.progress, 'progress');
  return {
    ...head,
    conversionId: expectId(m.conversionId, 'conversionId'),
    status,
    progress,
  };
}

export function parseConversionFinished(raw: unknown): ConversionFinished {
  const { m, head } = aboutVideo(raw, 'conversion.finished');
  const status = [...FINAL_STATUSES].find((s) => s === m.status);
  if (!status) throw new InvalidMessageError(`not a final status: ${String(m.status)}`);
  const finishedAt = expectString(m.finishedAt, 'finishedAt');
  if (Number.isNaN(Date.parse(finishedAt))) {
    throw new InvalidMessageError('finishedAt must be an ISO 8601 time');
  }
  return {
    ...head,
    conversionId: expectId(m.conversionId, 'conversionId'),
    status,
    filename: expectString(m.filename, 'filename'),
    errorCode: m.errorCode === null ? null : expectString(m.errorCode, 'errorCode'),
    audioId: m.audioId === null ? null : expectId(m.audioId, 'audioId'),
    finishedAt,
  };
}

/** Parses a delivery body as JSON, or throws InvalidMessageError. */
export function parseJsonMessage(content: Buffer): unknown {
  try {
    return JSON.parse(content.toString('utf8')) as unknown;
  } catch {
    throw new InvalidMessageError('message body is not JSON');
  }
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
