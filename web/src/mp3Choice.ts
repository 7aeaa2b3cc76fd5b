import type { LoudnessPreset, Mp3Options } from '../../sdk/generated/graphql.js';

/** The MP3 options form as the person filled it in: strings, as inputs hold them. */
export interface Mp3Choice {
  mode: 'constant' | 'variable';
  bitrateKbps: string;
  vbrQuality: string;
  mono: boolean;
  /** Empty: the source's rate. */
  sampleRateHz: string;
  startSeconds: string;
  endSeconds: string;
  title: string;
  artist: string;
  /** Empty: no normalization. */
  loudness: '' | LoudnessPreset;
  /** Empty: the first audio track; a language code ("eng") or a number from 0. */
  track: string;
  chapters: boolean;
}

export const DEFAULT_MP3_CHOICE: Mp3Choice = {
  mode: 'constant',
  bitrateKbps: '192',
  vbrQuality: '2',
  mono: false,
  sampleRateHz: '',
  startSeconds: '',
  endSeconds: '',
  title: '',
  artist: '',
  loudness: '',
  track: '',
  chapters: true,
};

/** The API's `Mp3Options` for a choice: only what differs from the server's defaults. */
export function toMp3Options(choice: Mp3Choice): Mp3Options {
  const options: Mp3Options = {};
  if (choice.mode === 'variable') options.vbrQuality = Number(choice.vbrQuality);
  else if (choice.bitrateKbps !== DEFAULT_MP3_CHOICE.bitrateKbps) {
    options.bitrateKbps = Number(choice.bitrateKbps);
  }
  if (choice.mono) options.channels = 1;
  if (choice.sampleRateHz) options.sampleRateHz = Number(choice.sampleRateHz);
  if (choice.startSeconds.trim()) options.startSeconds = Number(choice.startSeconds);
  if (choice.endSeconds.trim()) options.endSeconds = Number(choice.endSeconds);
  if (choice.title.trim()) options.title = choice.title.trim();
  if (choice.artist.trim()) options.artist = choice.artist.trim();
  if (choice.loudness) options.loudness = { preset: choice.loudness };
  const track = choice.track.trim();
  if (track) {
    options.audioTrack = /^\d+$/.test(track)
      ? { index: Number(track) }
      : { language: track.toLowerCase() };
  }
  if (!choice.chapters) options.chapters = false;
  return options;
}
