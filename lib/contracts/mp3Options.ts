import { ErrorCode, graphqlError } from './errors.js';

/** What a user may ask of the MP3 (GraphQL input `Mp3Options`); every field optional. */
export interface Mp3Options {
  bitrateKbps?: number;
  vbrQuality?: number;
  sampleRateHz?: number;
  channels?: number;
  startSeconds?: number;
  endSeconds?: number;
  title?: string;
  artist?: string;
}

export const MP3_BITRATE_RANGE = { min: 32, max: 320 } as const;
export const MP3_SAMPLE_RATES = [22050, 32000, 44100, 48000] as const;
export const MP3_MAX_TAG_LENGTH = 200;

/**
 * Validates options from a client (GraphQL) or from a message, and returns only the fields
 * that were set. One function for media (before anything is stored), conversion and worker, so
 * they can never disagree. Errors name the field: `BAD_USER_INPUT`, `field: "mp3.channels"`.
 * Checks that need the source (trim within its duration) belong to the worker.
 */
export function parseMp3Options(input: unknown): Mp3Options {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid('mp3', 'must be an object');
  const raw = input as Record<string, unknown>;
  const known = new Set([
    'bitrateKbps',
    'vbrQuality',
    'sampleRateHz',
    'channels',
    'startSeconds',
    'endSeconds',
    'title',
    'artist',
  ]);
  for (const key of Object.keys(raw))
    if (!known.has(key)) throw invalid(key, 'is not an MP3 option');

  const options: Mp3Options = {};
  const int = (key: keyof Mp3Options, check: (n: number) => boolean, rule: string) => {
    const value = raw[key];
    if (value === null || value === undefined) return;
    if (typeof value !== 'number' || !Number.isInteger(value) || !check(value))
      throw invalid(key, rule);
    (options as Record<string, unknown>)[key] = value;
  };
  int(
    'bitrateKbps',
    (n) => n >= MP3_BITRATE_RANGE.min && n <= MP3_BITRATE_RANGE.max,
    'must be a whole number of kbps from 32 to 320',
  );
  int('vbrQuality', (n) => n >= 0 && n <= 9, 'must be a whole number from 0 (best) to 9');
  int(
    'sampleRateHz',
    (n) => (MP3_SAMPLE_RATES as readonly number[]).includes(n),
    `must be one of ${MP3_SAMPLE_RATES.join(', ')}`,
  );
  int('channels', (n) => n === 1 || n === 2, 'must be 1 (mono) or 2 (stereo)');
  if (options.bitrateKbps !== undefined && options.vbrQuality !== undefined) {
    throw invalid(
      'vbrQuality',
      'cannot be combined with bitrateKbps: choose constant or variable bitrate',
    );
  }

  for (const key of ['startSeconds', 'endSeconds'] as const) {
    const value = raw[key];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
      throw invalid(key, 'must be a number of seconds, 0 or more');
    options[key] = value;
  }
  if (options.endSeconds !== undefined && options.endSeconds <= (options.startSeconds ?? 0)) {
    throw invalid('endSeconds', 'must be after startSeconds');
  }

  for (const key of ['title', 'artist'] as const) {
    const value = raw[key];
    if (value === null || value === undefined) continue;
    if (typeof value !== 'string') throw invalid(key, 'must be a string');
    // ID3 tags end up in a file other programs parse: no control characters.
    if (value.length > MP3_MAX_TAG_LENGTH || /\p{Cc}/u.test(value)) {
      throw invalid(
        key,
        `must be at most ${MP3_MAX_TAG_LENGTH} characters without control characters`,
      );
    }
    options[key] = value;
  }
  return options;
}

function invalid(field: string, rule: string) {
  return graphqlError(ErrorCode.BAD_USER_INPUT, `mp3.${field} ${rule}`, { field: `mp3.${field}` });
}

export const DEFAULT_BITRATE_KBPS = 192;

/**
 * What a conversion actually runs with: constant 192 kbps unless a bitrate or VBR quality was
 * asked, and the video's name without its extension as the title. Sample rate and channels
 * stay unset ("as the source, where MP3 allows").
 */
export function effectiveMp3Options(options: Mp3Options, videoFilename: string): Mp3Options {
  const dot = videoFilename.lastIndexOf('.');
  return {
    ...options,
    ...(options.vbrQuality === undefined
      ? { bitrateKbps: options.bitrateKbps ?? DEFAULT_BITRATE_KBPS }
      : {}),
    title: options.title ?? (dot > 0 ? videoFilename.slice(0, dot) : videoFilename),
  };
}
