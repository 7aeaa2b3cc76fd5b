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
  /** EBU R128 normalization; a preset is stored as the figures it stands for. */
  loudness?: LoudnessTarget;
  /** Which audio stream of the video: the nth (from 0), or the first in a language. */
  audioTrack?: AudioTrackChoice;
  /** False drops the video's chapters; by default they become ID3 CHAP frames with a CTOC. */
  chapters?: boolean;
}

export interface LoudnessTarget {
  /** Integrated loudness, LUFS. */
  targetLufs: number;
  /** The highest true peak allowed, dBTP. */
  truePeakDb: number;
}

export type AudioTrackChoice = { index: number } | { language: string };

/** Named targets (GraphQL enum `LoudnessPreset`), in LUFS. */
export const LOUDNESS_PRESETS = { PODCAST: -16, STREAMING: -14, BROADCAST: -23 } as const;
export type LoudnessPreset = keyof typeof LOUDNESS_PRESETS;
export const LOUDNESS_TARGET_RANGE = { min: -31, max: -5 } as const;
/** loudnorm's own limits for its true-peak target. */
export const TRUE_PEAK_RANGE = { min: -9, max: 0 } as const;
export const DEFAULT_TRUE_PEAK_DB = -1;

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
    'loudness',
    'audioTrack',
    'chapters',
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

  const loudness = parseLoudness(raw.loudness);
  if (loudness) options.loudness = loudness;
  const audioTrack = parseAudioTrack(raw.audioTrack);
  if (audioTrack) options.audioTrack = audioTrack;
  if (raw.chapters !== null && raw.chapters !== undefined) {
    if (typeof raw.chapters !== 'boolean') throw invalid('chapters', 'must be true or false');
    options.chapters = raw.chapters;
  }
  return options;
}

/**
 * `{ preset }` or `{ targetLufs }`, with an optional `truePeakDb` (default −1 dBTP); both the
 * GraphQL input and the stored form (`{ targetLufs, truePeakDb }`) parse to the stored form.
 */
function parseLoudness(value: unknown): LoudnessTarget | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid('loudness', 'must be an object');
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw))
    if (!['preset', 'targetLufs', 'truePeakDb'].includes(key))
      throw invalid(`loudness.${key}`, 'is not a loudness option');
  const hasPreset = raw.preset !== null && raw.preset !== undefined;
  const hasTarget = raw.targetLufs !== null && raw.targetLufs !== undefined;
  if (hasPreset === hasTarget)
    throw invalid('loudness', 'takes either a preset or a targetLufs, one of them');
  let targetLufs: number;
  if (hasPreset) {
    if (typeof raw.preset !== 'string' || !Object.hasOwn(LOUDNESS_PRESETS, raw.preset))
      throw invalid(
        'loudness.preset',
        `must be one of ${Object.keys(LOUDNESS_PRESETS).join(', ')}`,
      );
    targetLufs = LOUDNESS_PRESETS[raw.preset as LoudnessPreset];
  } else {
    targetLufs = numberIn(raw.targetLufs, LOUDNESS_TARGET_RANGE, 'loudness.targetLufs', 'LUFS');
  }
  const peak = raw.truePeakDb ?? DEFAULT_TRUE_PEAK_DB;
  return {
    targetLufs,
    truePeakDb: numberIn(peak, TRUE_PEAK_RANGE, 'loudness.truePeakDb', 'dBTP'),
  };
}

/** `value` if it is a finite number within `range`, else BAD_USER_INPUT naming `field`. */
function numberIn(
  value: unknown,
  range: { min: number; max: number },
  field: string,
  unit: string,
): number {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < range.min ||
    value > range.max
  )
    throw invalid(field, `must be from ${range.min} to ${range.max} ${unit}`);
  return value;
}

/** `{ index }` (0 to 63) or `{ language }` (an ISO 639-2 code such as "eng"), exactly one. */
function parseAudioTrack(value: unknown): AudioTrackChoice | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid('audioTrack', 'must be an object');
  const raw = value as Record<string, unknown>;
  for (const key of Object.keys(raw))
    if (key !== 'index' && key !== 'language')
      throw invalid(`audioTrack.${key}`, 'is not an audio track option');
  const index = raw.index ?? undefined;
  const language = raw.language ?? undefined;
  if ((index === undefined) === (language === undefined))
    throw invalid('audioTrack', 'takes either an index or a language, one of them');
  if (index !== undefined) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > 63)
      throw invalid('audioTrack.index', 'must be a whole number from 0 to 63');
    return { index };
  }
  if (typeof language !== 'string' || !/^[a-z]{2,3}$/.test(language))
    throw invalid('audioTrack.language', 'must be a language code of 2 or 3 lowercase letters');
  return { language };
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
