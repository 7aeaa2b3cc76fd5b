import type { ChapterMark } from '../lib/contracts/audioReport.js';
import { ConversionErrorCode } from '../lib/contracts/errorCodes.js';
import {
  effectiveMp3Options,
  type LoudnessTarget,
  type Mp3Options,
} from '../lib/contracts/mp3Options.js';
import { BadInputError } from './BadInputError.js';
import { chooseAudioStream } from './chooseAudioStream.js';
import type { LoudnessPass } from './planLoudnessPass.js';
import { planChapters } from './planChapters.js';
import { ALLOWED_DEMUXERS, type ProbeResult } from './probeMedia.js';

export interface FfmpegPlan {
  args: string[];
  /** The source's MP3 stream is copied, not re-encoded. */
  copy: boolean;
  /** What the MP3's duration must come out at. */
  expectedSeconds: number;
  /** The most the MP3 may weigh (ffmpeg's `-fs`): its duration at the highest bitrate it can have. */
  maxOutputBytes: number;
  /** The chapters the MP3 gets; when any, the caller writes them to `chaptersPath` first. */
  chapters: ChapterMark[];
  /** Whether loudness is normalized, and how (loudnorm's report, where it runs, is in the log). */
  loudness?: { target: LoudnessTarget; pass: LoudnessPass };
}

/**
 * loudnorm's loudness-range target: wide, so a linear second pass keeps its one gain for
 * speech and music alike (loudnorm turns dynamic when the source's range exceeds it).
 */
const LOUDNORM_RANGE_LU = 20;

/** The MPEG audio sample rates libmp3lame writes; loudnorm's output (192 kHz) is brought back. */
const MP3_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];

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
  /** Where the chapters' FFMETADATA file goes (ffmpeg's second input), if there are any. */
  chaptersPath: string;
  /** Required when `requested.loudness` is set. */
  loudnessPass?: LoudnessPass;
}): FfmpegPlan {
  const { probe, requested } = input;
  const stream = chooseAudioStream(probe, requested.audioTrack);
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
  const reshaped = ['bitrateKbps', 'vbrQuality', 'sampleRateHz', 'channels', 'loudness'].some(
    (key) => key in requested,
  );
  const copy = stream.codec === 'mp3' && !trimmed && !reshaped;
  const options = effectiveMp3Options(requested, input.videoFilename);
  const loudness = requested.loudness
    ? { target: requested.loudness, pass: input.loudnessPass ?? { kind: 'single' as const } }
    : undefined;
  const chapters = planChapters(probe.chapters, {
    start,
    end: Math.min(end, probe.durationSeconds),
    wanted: requested.chapters !== false,
  });

  const encode = copy ? ['-c:a', 'copy'] : encoderArgs(options, stream, loudness);
  const expectedSeconds = Math.min(end, probe.durationSeconds) - start;
  // A copied stream or VBR may reach MP3's ceiling for its sample rate (320 kbps from 32 kHz up);
  // ID3 tags and padding on top. This bounds the room the MP3 holds in its owner's quota.
  const ceilingKbps = Math.min(
    copy ? 320 : (options.bitrateKbps ?? 320),
    mp3CeilingKbps(options.sampleRateHz ?? stream.sampleRateHz),
  );
  const maxOutputBytes = Math.ceil(
    ((expectedSeconds + DURATION_SLACK) * ceilingKbps * 1000) / 8 + 1_048_576,
  );
  const args = [
    '-hide_banner',
    '-nostdin',
    // Tagged lines: runFfmpeg tells errors from loudnorm's report, which it logs as info.
    '-loglevel',
    loudness && loudness.pass.kind !== 'linear' ? 'level+info' : 'level+error',
    ...sourceInput(input.source, probe, requested),
    ...(chapters.length > 0
      ? ['-protocol_whitelist', 'file', '-f', 'ffmetadata', '-i', input.chaptersPath]
      : []),
    '-map',
    `0:a:${stream.index}`,
    '-vn',
    '-sn',
    '-dn',
    // The source's tags stay out of the MP3; chapters are ours (above), with their titles.
    '-map_metadata:g',
    '-1',
    '-map_metadata:s',
    '-1',
    '-map_chapters',
    chapters.length > 0 ? '1' : '-1',
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
  return {
    args,
    copy,
    expectedSeconds,
    maxOutputBytes,
    chapters,
    ...(loudness ? { loudness } : {}),
  };
}

/**
 * The first of two loudness passes: ffmpeg decodes the chosen stream (trimmed as asked) into
 * ebur128, which logs its summary (parseEbur128Summary); nothing is written.
 */
export function buildLoudnessMeasureArgs(input: {
  source: string;
  probe: ProbeResult;
  requested: Mp3Options & { loudness: LoudnessTarget };
}): string[] {
  const stream = chooseAudioStream(input.probe, input.requested.audioTrack);
  return [
    '-hide_banner',
    '-nostdin',
    '-loglevel',
    'level+info',
    ...sourceInput(input.source, input.probe, input.requested),
    '-map',
    `0:a:${stream.index}`,
    '-vn',
    '-sn',
    '-dn',
    '-af',
    // Frame by frame at verbose: only the summary at info.
    'ebur128=peak=true:framelog=verbose',
    '-f',
    'null',
    '-nostats',
    '-',
  ];
}

/** libmp3lame's arguments, loudnorm before it when asked. */
function encoderArgs(
  options: Mp3Options,
  stream: { channels: number; sampleRateHz: number },
  loudness: { target: LoudnessTarget; pass: LoudnessPass } | undefined,
): string[] {
  return [
    '-c:a',
    'libmp3lame',
    ...(options.vbrQuality !== undefined
      ? ['-q:a', String(options.vbrQuality)]
      : ['-b:a', `${options.bitrateKbps}k`]),
    ...(loudness ? ['-af', loudnessFilter(loudness.target, loudness.pass)] : []),
    ...(options.sampleRateHz
      ? ['-ar', String(options.sampleRateHz)]
      : loudness
        ? ['-ar', String(mp3RateFor(stream.sampleRateHz))]
        : []),
    // MP3 holds at most two channels: 5.1 and the like are downmixed.
    ...(options.channels
      ? ['-ac', String(options.channels)]
      : stream.channels > 2
        ? ['-ac', '2']
        : []),
  ];
}

/** The source as ffmpeg's first input: local files only, its probed demuxer forced, trimmed. */
function sourceInput(source: string, probe: ProbeResult, requested: Mp3Options): string[] {
  return [
    '-protocol_whitelist',
    'file,pipe',
    '-format_whitelist',
    ALLOWED_DEMUXERS.join(','),
    '-f',
    probe.demuxer,
    ...(requested.startSeconds !== undefined ? ['-ss', String(requested.startSeconds)] : []),
    ...(requested.endSeconds !== undefined ? ['-to', String(requested.endSeconds)] : []),
    '-i',
    source,
  ];
}

/** The filter: one gain (a linear second pass), else loudnorm adapting, reporting as JSON. */
function loudnessFilter(target: LoudnessTarget, pass: LoudnessPass): string {
  if (pass.kind === 'linear') return `volume=${pass.gainDb}dB`;
  return `loudnorm=I=${target.targetLufs}:TP=${target.truePeakDb}:LRA=${LOUDNORM_RANGE_LU}:print_format=json`;
}

/** The source's rate where MP3 has it, else 48 kHz (or 44.1 kHz for its multiples). */
function mp3RateFor(sourceHz: number): number {
  if (MP3_RATES.includes(sourceHz)) return sourceHz;
  return sourceHz > 0 && sourceHz % 11025 === 0 ? 44100 : 48000;
}

/**
 * The highest bitrate an MP3 can have at a sample rate: MPEG-1 Layer III (32–48 kHz) 320 kbps,
 * MPEG-2 (16–24 kHz) 160, MPEG-2.5 (8–12 kHz) 64. An unknown rate (0) gets the highest.
 */
export function mp3CeilingKbps(sampleRateHz: number): number {
  if (sampleRateHz <= 0 || sampleRateHz >= 32_000) return 320;
  return sampleRateHz >= 16_000 ? 160 : 64;
}
