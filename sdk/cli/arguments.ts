import { basename } from 'node:path';
import type { parseArgs, ParseArgsConfig } from 'node:util';
import type { Mp3Options, NotificationEvent } from '../createReelfluxClient.js';

/** Every option any command takes; `parseArgs` refuses the rest. */
export const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  email: { type: 'string' },
  output: { type: 'string', short: 'o' },
  bitrate: { type: 'string' },
  vbr: { type: 'string' },
  mono: { type: 'boolean' },
  'sample-rate': { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  title: { type: 'string' },
  artist: { type: 'string' },
  loudness: { type: 'string' },
  'true-peak': { type: 'string' },
  track: { type: 'string' },
  'no-chapters': { type: 'boolean' },
  limit: { type: 'string' },
  events: { type: 'string' },
  resume: { type: 'boolean' },
} satisfies ParseArgsConfig['options'];

export type OptionValues = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** The call itself is wrong: exit 2 with the usage text. */
export class UsageError extends Error {
  override name = 'UsageError';
}

export function one(positionals: string[], message: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(message);
  return positionals[0];
}

export function positiveInt(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new UsageError(`--${name} must be a positive integer`);
  return number;
}

export function nonNegative(value: string, name: string, integer = false): number {
  const number = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(number) ||
    number < 0 ||
    (integer && !Number.isInteger(number))
  ) {
    throw new UsageError(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return number;
}

/** The MP3 options a command line asks for; the server validates them in full. */
export function mp3Options(values: OptionValues): Mp3Options {
  const options: Mp3Options = {};
  if (values.bitrate !== undefined) options.bitrateKbps = positiveInt(values.bitrate, 'bitrate');
  if (values.vbr !== undefined) options.vbrQuality = nonNegative(values.vbr, 'vbr', true);
  if (values.mono) options.channels = 1;
  if (values['sample-rate'] !== undefined)
    options.sampleRateHz = positiveInt(values['sample-rate'], 'sample-rate');
  if (values.start !== undefined) options.startSeconds = nonNegative(values.start, 'start');
  if (values.end !== undefined) options.endSeconds = nonNegative(values.end, 'end');
  if (values.title !== undefined) options.title = values.title;
  if (values.artist !== undefined) options.artist = values.artist;
  if (values.loudness !== undefined) {
    options.loudness = loudness(values.loudness);
    if (values['true-peak'] !== undefined)
      options.loudness.truePeakDb = finite(values['true-peak'], 'true-peak');
  } else if (values['true-peak'] !== undefined) {
    throw new UsageError('--true-peak goes with --loudness');
  }
  if (values.track !== undefined) options.audioTrack = audioTrack(values.track);
  if (values['no-chapters']) options.chapters = false;
  return options;
}

const LOUDNESS_PRESETS = ['podcast', 'streaming', 'broadcast'] as const;

/** `--loudness podcast|streaming|broadcast|<LUFS>`: a preset by name, or a target such as -18. */
function loudness(value: string): NonNullable<Mp3Options['loudness']> {
  const preset = LOUDNESS_PRESETS.find((name) => name === value.toLowerCase());
  if (preset) return { preset: preset.toUpperCase() as Uppercase<typeof preset> };
  if (value.trim() === '' || !Number.isFinite(Number(value)))
    throw new UsageError(`--loudness takes ${LOUDNESS_PRESETS.join(', ')} or a LUFS target (-16)`);
  return { targetLufs: Number(value) };
}

/** `--track eng|<n>`: a language code, or the audio stream's place (from 0). */
function audioTrack(value: string): NonNullable<Mp3Options['audioTrack']> {
  if (/^\d+$/.test(value)) return { index: Number(value) };
  if (/^[a-z]{2,3}$/i.test(value)) return { language: value.toLowerCase() };
  throw new UsageError('--track takes a language code (eng) or a number (0 for the first)');
}

function finite(value: string, name: string): number {
  const number = Number(value);
  if (value.trim() === '' || !Number.isFinite(number))
    throw new UsageError(`--${name} must be a number`);
  return number;
}

/** A file name without its folder and extension: `movie` for an MP3 made of `a/movie.mp4`. */
export function stem(filename: string): string {
  return basename(filename).replace(/\.[^.]*$/, '') || 'audio';
}

/** What a notification is about, as the command line writes it: `succeeded` for CONVERSION_SUCCEEDED. */
const EVENTS: Record<string, NotificationEvent> = {
  succeeded: 'CONVERSION_SUCCEEDED',
  failed: 'CONVERSION_FAILED',
  cancelled: 'CONVERSION_CANCELLED',
};

/** The events of `--events succeeded,failed`: the short names or the API's, in any case. */
export function notificationEvents(value: string): NotificationEvent[] {
  const names = value
    .split(',')
    .map((name) =>
      name
        .trim()
        .toLowerCase()
        .replace(/^conversion[._]/, ''),
    )
    .filter((name) => name !== '');
  if (names.length === 0) throw new UsageError('--events needs at least one event');
  const unknown = names.filter((name) => !Object.hasOwn(EVENTS, name));
  if (unknown.length > 0) {
    throw new UsageError(
      `--events takes ${Object.keys(EVENTS).join(', ')}, not ${unknown.join(', ')}`,
    );
  }
  return [...new Set(names.map((name) => EVENTS[name] as NotificationEvent))];
}

/** `succeeded` for CONVERSION_SUCCEEDED: how `--events` and the listings name an event. */
export function eventName(event: NotificationEvent): string {
  return event.replace(/^CONVERSION_/, '').toLowerCase();
}
