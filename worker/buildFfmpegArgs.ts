import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import { effectiveMp3Options, type Mp3Options } from '../lib/contracts/mp3Options.js';
import { BadInputError } from './BadInputError.js';
import { ALLOWED_DEMUXERS, type ProbeResult } from './probeMedia.js';

export interface FfmpegPlan {
  args: string[];
  /** The source's MP3 stream is copied, not re-encoded. */
  copy: boolean;
  /** What the MP3's duration must come out at. */
  expectedSeconds: number;
  /** The most the MP3 may weigh (ffmpeg's `-fs`): its duration at the highest bitrate it can have. */
  maxOutputBytes: number;
}

/** Seconds of output allowed past the expected duration (frame rounding), via `-t`. */
const DURATION_SLACK = 1;

/** Seconds of slack for a trim end past the probed duration (containers round it). */
const END_SLACK = 0.05;

/**
 * The ffmpeg command for one conversion, as an argument array (no shell, no quoting):
 * local files only (`-protocol_whitelist`), the probed demuxer forced and whitelisted, the
 * first audio stream only, progress on stdout. Copies an MP3 source when nothing asks for a
 * change; refuses trims outside the source.
 */
export function buildFfmpegArgs(input: {
  source: string;
  output: string;
  probe: ProbeResult;
  requested: Mp3Options;
  videoFilename: string;
}): FfmpegPlan {
  const { probe, requested } = input;
  if (!probe.audio)
    throw new BadInputError(ConversionErrorCode.NO_AUDIO_STREAM, 'The file has no audio stream');
  if (!(probe.durationSeconds > 0))
    throw new BadInputError(ConversionErrorCode.UNSUPPORTED_MEDIA, 'The file has no duration');

  const start = requested.startSeconds ?? 0;
  const end = requested.endSeconds ?? probe.durationSeconds;
  if (start >= probe.durationSeconds || end > probe.durationSeconds + END_SLACK) {
    throw new BadInputError(
      ConversionErrorCode.TRIM_OUT_OF_RANGE,
      `Trim ${start}–${end} s is outside the source's ${probe.durationSeconds.toFixed(2)} s`,
    );
  }
  const trimmed = requested.startSeconds !== undefined || requested.endSeconds !== undefined;
  const reshaped = ['bitrateKbps', 'vbrQuality', 'sampleRateHz', 'channels'].some(
    (key) => key in requested,
  );
  const copy = probe.audio.codec === 'mp3' && !trimmed && !reshaped;
  const options = effectiveMp3Options(requested, input.videoFilename);

  const encode = copy
    ? ['-c:a', 'copy']
    : [
        '-c:a',
        'libmp3lame',
        ...(options.vbrQuality !== undefined
          ? ['-q:a', String(options.vbrQuality)]
          : ['-b:a', `${options.bitrateKbps}k`]),
        ...(options.sampleRateHz ? ['-ar', String(options.sampleRateHz)] : []),
        // MP3 holds at most two channels: 5.1 and the like are downmixed.
        ...(options.channels
          ? ['-ac', String(options.channels)]
          : probe.audio.channels > 2
            ? ['-ac', '2']
            : []),
      ];
  const expectedSeconds = Math.min(end, probe.durationSeconds) - start;
  // A copied stream or VBR may reach MP3's ceiling for its sample rate (320 kbps from 32 kHz up);
  // ID3 tags and padding on top. This bounds the room the MP3 holds in its owner's quota.
  const ceilingKbps = Math.min(
    copy ? 320 : (options.bitrateKbps ?? 320),
    mp3CeilingKbps(options.sampleRateHz ?? probe.audio.sampleRateHz),
  );
  const maxOutputBytes = Math.ceil(
    ((expectedSeconds + DURATION_SLACK) * ceilingKbps * 1000) / 8 + 1_048_576,
  );
  const args = [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-protocol_whitelist',
    'file,pipe',
    '-format_whitelist',
    ALLOWED_DEMUXERS.join(','),
    '-f',
    input.probe.demuxer,
    ...(requested.startSeconds !== undefined ? ['-ss', String(start)] : []),
    ...(requested.endSeconds !== undefined ? ['-to', String(end)] : []),
    '-i',
    input.source,
    '-map',
    '0:a:0',
    '-vn',
    '-sn',
    '-dn',
    '-map_metadata',
    '-1',
    ...encode,
    // A file can claim one duration and decode to far more: the output stops at what was
    // expected, in time and in bytes, whatever the input does.
    '-t',
    String(expectedSeconds + DURATION_SLACK),
    '-fs',
    String(maxOutputBytes),
    '-metadata',
    `title=${options.title ?? ''}`,
    ...(options.artist !== undefined ? ['-metadata', `artist=${options.artist}`] : []),
    '-id3v2_version',
    '3',
    '-f',
    'mp3',
    '-progress',
    'pipe:1',
    '-nostats',
    '-y',
    input.output,
  ];
  return { args, copy, expectedSeconds, maxOutputBytes };
}

/**
 * The highest bitrate an MP3 can have at a sample rate: MPEG-1 Layer III (32–48 kHz) 320 kbps,
 * MPEG-2 (16–24 kHz) 160, MPEG-2.5 (8–12 kHz) 64. An unknown rate (0) gets the highest.
 */
export function mp3CeilingKbps(sampleRateHz: number): number {
  if (sampleRateHz <= 0 || sampleRateHz >= 32_000) return 320;
  return sampleRateHz >= 16_000 ? 160 : 64;
}
