import { describe, expect, it } from 'vitest';
import type { Mp3Options } from '../lib/contracts/mp3Options.js';
import { BadInputError } from '../worker/BadInputError.js';
import { buildFfmpegArgs, mp3CeilingKbps } from '../worker/buildFfmpegArgs.js';
import { parseFfmpegProgress } from '../worker/parseFfmpegProgress.js';
import type { ProbeResult } from '../worker/probeMedia.js';

const aac: ProbeResult = {
  demuxer: 'mov',
  durationSeconds: 60,
  audio: { codec: 'aac', channels: 2, sampleRateHz: 48000 },
  audioStreams: [
    { index: 0, language: null, codec: 'aac', channels: 2, sampleRateHz: 48000, title: null },
  ],
  chapters: [],
  bitRate: 1_000_000,
};

/** A probe whose only audio stream is `audio`. */
const only = (audio: { codec: string; channels: number; sampleRateHz: number }): ProbeResult => ({
  ...aac,
  audio,
  audioStreams: [{ index: 0, language: null, title: null, ...audio }],
});

const plan = (requested: Mp3Options, probe: ProbeResult = aac) =>
  buildFfmpegArgs({
    source: '/tmp/job/input',
    output: '/tmp/job/output.mp3',
    probe,
    requested,
    videoFilename: 'holiday.mp4',
    chaptersPath: '/tmp/job/chapters.ffmeta',
  });

/** The value after `flag` in an argument list, or undefined when the flag is absent. */
const after = (args: string[], flag: string) => {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
};

describe('buildFfmpegArgs: the ffmpeg command for one conversion', () => {
  it('reads only local files through the probed, whitelisted demuxer, first audio stream only', () => {
    const { args } = plan({});
    expect(after(args, '-protocol_whitelist')).toBe('file,pipe');
    expect(after(args, '-format_whitelist')?.split(',')).toContain('mov');
    expect(after(args, '-f')).toBe('mov');
    expect(after(args, '-i')).toBe('/tmp/job/input');
    expect(after(args, '-map')).toBe('0:a:0');
    expect(args).toEqual(expect.arrayContaining(['-vn', '-sn', '-dn', '-nostdin']));
    expect(after(args, '-map_metadata:g')).toBe('-1');
    expect(args.at(-1)).toBe('/tmp/job/output.mp3');
  });

  it('encodes 192 kbps CBR by default, titled after the video, capped in time and bytes', () => {
    const { args, copy, expectedSeconds, maxOutputBytes } = plan({});
    expect(copy).toBe(false);
    expect(after(args, '-c:a')).toBe('libmp3lame');
    expect(after(args, '-b:a')).toBe('192k');
    expect(args).toContain('title=holiday');
    expect(expectedSeconds).toBe(60);
    expect(after(args, '-t')).toBe('61');
    // 61 s at 192 kbps, and 1 MiB for tags and padding.
    expect(maxOutputBytes).toBe(61 * 24_000 + 1_048_576);
    expect(after(args, '-fs')).toBe(String(maxOutputBytes));
  });

  it('passes each option on', () => {
    const { args } = plan({
      vbrQuality: 2,
      sampleRateHz: 44100,
      channels: 1,
      title: 'Intro',
      artist: 'Me',
    });
    expect(after(args, '-q:a')).toBe('2');
    expect(args).not.toContain('-b:a');
    expect(after(args, '-ar')).toBe('44100');
    expect(after(args, '-ac')).toBe('1');
    expect(args).toEqual(expect.arrayContaining(['title=Intro', 'artist=Me']));
  });

  it('downmixes more than two channels, and keeps one or two as they are', () => {
    const surround = only({ codec: 'ac3', channels: 6, sampleRateHz: 48000 });
    expect(after(plan({}, surround).args, '-ac')).toBe('2');
    expect(plan({}).args).not.toContain('-ac');
  });

  it('trims, expecting only the trimmed length', () => {
    const { args, expectedSeconds } = plan({ startSeconds: 10, endSeconds: 25 });
    expect(after(args, '-ss')).toBe('10');
    expect(after(args, '-to')).toBe('25');
    expect(expectedSeconds).toBe(15);
  });

  it('copies an MP3 source when nothing asks for a change, and re-encodes when something does', () => {
    const mp3 = { ...only({ codec: 'mp3', channels: 2, sampleRateHz: 44100 }), demuxer: 'mp3' };
    const copied = plan({}, mp3);
    expect(copied.copy).toBe(true);
    expect(after(copied.args, '-c:a')).toBe('copy');
    // A copy may be at MP3's ceiling, 320 kbps.
    expect(copied.maxOutputBytes).toBe(61 * 40_000 + 1_048_576);
    expect(plan({ bitrateKbps: 128 }, mp3).copy).toBe(false);
    expect(plan({ startSeconds: 1 }, mp3).copy).toBe(false);
  });

  it.each([
    ['no audio stream', {}, { ...aac, audio: null, audioStreams: [] }, 'NO_AUDIO_STREAM'],
    ['no duration', {}, { ...aac, durationSeconds: 0 }, 'UNSUPPORTED_MEDIA'],
    ['a start past the end', { startSeconds: 60 }, aac, 'TRIM_OUT_OF_RANGE'],
    ['an end past the end', { endSeconds: 61 }, aac, 'TRIM_OUT_OF_RANGE'],
  ] satisfies [string, Mp3Options, ProbeResult, string][])(
    'refuses %s as bad input',
    (_, requested, probe, code) => {
      const attempt = () => plan(requested, probe);
      expect(attempt).toThrow(BadInputError);
      expect(attempt).toThrow(expect.objectContaining({ code }) as Error);
    },
  );

  it('accepts an end a rounding past the probed duration', () => {
    expect(plan({ endSeconds: 60.04 }).expectedSeconds).toBe(60);
  });
});

describe('parseFfmpegProgress: the fraction done from `-progress` lines', () => {
  it.each([
    ['out_time_us=15000000', 60, 0.25],
    ['out_time_ms=30000000', 60, 0.5],
    ['  out_time_us=90000000  ', 60, 1],
    ['out_time_us=0', 60, 0],
  ])('reads %s of %d s as %d', (line, expected, fraction) => {
    expect(parseFfmpegProgress(line, expected)).toBe(fraction);
  });

  it.each([
    ['progress=continue', 60],
    ['out_time=00:00:15.000000', 60],
    ['out_time_us=N/A', 60],
    ['out_time_us=-5', 60],
    ['out_time_us=15000000', 0],
  ])('ignores %s (expecting %d s)', (line, expected) => {
    expect(parseFfmpegProgress(line, expected)).toBeNull();
  });
});

describe('mp3CeilingKbps: the most an MP3 can take per second, by sample rate', () => {
  it.each([
    [48_000, 320],
    [44_100, 320],
    [32_000, 320],
    [24_000, 160],
    [16_000, 160],
    [11_025, 64],
    [8_000, 64],
    [0, 320],
  ])('%i Hz: %i kbps', (rate, kbps) => {
    expect(mp3CeilingKbps(rate)).toBe(kbps);
  });
});
