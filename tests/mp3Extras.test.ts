import { GraphQLError } from 'graphql';
import { describe, expect, it } from 'vitest';
import { parseMp3Options } from '../lib/contracts/mp3Options.js';
import { BadInputError } from '../worker/BadInputError.js';
import { buildFfmpegArgs, buildLoudnessMeasureArgs } from '../worker/buildFfmpegArgs.js';
import { chooseAudioStream } from '../worker/chooseAudioStream.js';
import { describeMp3 } from '../worker/describeMp3.js';
import { parseLoudnormReport } from '../worker/parseLoudnormReport.js';
import { parseEbur128Summary, planLoudnessPass } from '../worker/planLoudnessPass.js';
import { formatFfmetadata, planChapters } from '../worker/planChapters.js';
import type { ProbeResult } from '../worker/probeMedia.js';
import { errorLines } from '../worker/runFfmpeg.js';
import { mp3Options, UsageError, type OptionValues } from '../sdk/cli/arguments.js';
import { DEFAULT_MP3_CHOICE, toMp3Options } from '../web/src/mp3Choice.js';

const fieldOf = (input: unknown) => {
  try {
    return parseMp3Options(input);
  } catch (error) {
    if (!(error instanceof GraphQLError)) throw error;
    expect(error.extensions.code).toBe('BAD_USER_INPUT');
    return error.extensions.field;
  }
};

const stream = (index: number, language: string | null) => ({
  index,
  language,
  codec: 'aac',
  channels: 2,
  sampleRateHz: 44100,
  title: null,
});
const probe: ProbeResult = {
  demuxer: 'matroska',
  durationSeconds: 30,
  audio: { codec: 'aac', channels: 2, sampleRateHz: 44100 },
  audioStreams: [stream(0, 'fra'), stream(1, 'eng')],
  chapters: [
    { title: 'Intro', startSeconds: 0, endSeconds: 10 },
    { title: 'Talk', startSeconds: 10, endSeconds: 20 },
    { title: 'Q&A', startSeconds: 20, endSeconds: 30 },
  ],
  bitRate: 1_000_000,
};
const plan = (requested: Parameters<typeof buildFfmpegArgs>[0]['requested']) =>
  buildFfmpegArgs({
    source: '/tmp/in',
    output: '/tmp/out.mp3',
    probe,
    requested,
    videoFilename: 'talk.mkv',
    chaptersPath: '/tmp/chapters.ffmeta',
  });
const after = (args: string[], flag: string) => args[args.indexOf(flag) + 1];

describe('Mp3Options: loudness, audio track, chapters', () => {
  it('stores a preset as its figures, with −1 dBTP unless told', () => {
    expect(fieldOf({ loudness: { preset: 'PODCAST' } })).toEqual({
      loudness: { targetLufs: -16, truePeakDb: -1 },
    });
    expect(fieldOf({ loudness: { preset: 'STREAMING' } })).toMatchObject({
      loudness: { targetLufs: -14 },
    });
    expect(fieldOf({ loudness: { preset: 'BROADCAST', truePeakDb: -2 } })).toEqual({
      loudness: { targetLufs: -23, truePeakDb: -2 },
    });
    // The stored form parses to itself (messages carry it).
    const stored = { loudness: { targetLufs: -18.5, truePeakDb: -1.5 } };
    expect(fieldOf(stored)).toEqual(stored);
    expect(fieldOf({ audioTrack: { language: 'eng' }, chapters: false })).toEqual({
      audioTrack: { language: 'eng' },
      chapters: false,
    });
    expect(fieldOf({ audioTrack: { index: 1, language: null } })).toEqual({
      audioTrack: { index: 1 },
    });
  });

  it.each([
    [{ loudness: { targetLufs: -32 } }, 'mp3.loudness.targetLufs'],
    [{ loudness: { targetLufs: -4.9 } }, 'mp3.loudness.targetLufs'],
    [{ loudness: { targetLufs: Number.NaN } }, 'mp3.loudness.targetLufs'],
    [{ loudness: { preset: 'LOUD' } }, 'mp3.loudness.preset'],
    [{ loudness: { preset: 'PODCAST', targetLufs: -16 } }, 'mp3.loudness'],
    [{ loudness: {} }, 'mp3.loudness'],
    [{ loudness: { targetLufs: -16, truePeakDb: 0.5 } }, 'mp3.loudness.truePeakDb'],
    [{ loudness: { targetLufs: -16, gain: 3 } }, 'mp3.loudness.gain'],
    [{ audioTrack: { index: 1, language: 'eng' } }, 'mp3.audioTrack'],
    [{ audioTrack: { index: -1 } }, 'mp3.audioTrack.index'],
    [{ audioTrack: { language: 'English' } }, 'mp3.audioTrack.language'],
    [{ chapters: 'no' }, 'mp3.chapters'],
  ])('refuses %o naming %s', (input, field) => {
    expect(fieldOf(input)).toBe(field);
  });
});

describe('the worker’s decisions for loudness, track and chapters', () => {
  it('normalizes in one dynamic pass unless given the first pass’s figures', () => {
    const loudness = { targetLufs: -16, truePeakDb: -1 };
    const single = plan({ loudness });
    expect(after(single.args, '-af')).toBe('loudnorm=I=-16:TP=-1:LRA=20:print_format=json');
    expect(after(single.args, '-ar')).toBe('44100');
    expect(after(single.args, '-loglevel')).toBe('level+info');
    expect(single.copy).toBe(false);
    expect(parseLoudnormReport(LOUDNORM_LOG)).toMatchObject({
      inputLufs: -35.02,
      outputLufs: -16.03,
      normalization: 'dynamic',
    });
    // The first pass: ebur128's summary decides one gain, or loudnorm where peaks forbid it.
    const measured = parseEbur128Summary(EBUR128_LOG);
    expect(measured).toEqual({ integratedLufs: -35, rangeLu: 1.2, truePeakDb: -30.5 });
    if (!measured) throw new Error('unparsed');
    const linear = planLoudnessPass(measured, loudness);
    expect(linear).toEqual({ kind: 'linear', measured, gainDb: 19 });
    const second = buildFfmpegArgs({
      ...{ source: '/tmp/in', output: '/tmp/out.mp3', probe, videoFilename: 't.mkv' },
      requested: { loudness },
      chaptersPath: '/tmp/c',
      loudnessPass: linear,
    });
    expect(after(second.args, '-af')).toBe('volume=19dB');
    expect(after(second.args, '-loglevel')).toBe('level+error');
    expect(describeMp3(second, '').loudness).toEqual({
      mode: 'TWO_PASS_LINEAR',
      targetLufs: -16,
      inputLufs: -35,
      inputTruePeakDb: -30.5,
      inputRangeLu: 1.2,
      outputLufs: -16,
      truePeakDb: -11.5,
      rangeLu: 1.2,
    });
    // 19 dB up from a -18 dBTP peak would pass -1 dBTP: loudnorm limits instead.
    const peaky = { ...measured, truePeakDb: -18 };
    expect(planLoudnessPass(peaky, loudness)).toEqual({ kind: 'limited', measured: peaky });
    expect(planLoudnessPass(undefined, loudness)).toEqual({ kind: 'single' });
    expect(parseEbur128Summary(EBUR128_LOG.replace('-35.0 LUFS', '-inf LUFS'))).toBeUndefined();
    const measure = buildLoudnessMeasureArgs({
      source: '/tmp/in',
      probe,
      requested: { loudness, startSeconds: 5, audioTrack: { language: 'eng' } },
    });
    expect(measure.slice(-3)).toEqual(['null', '-nostats', '-']);
    expect(after(measure, '-af')).toBe('ebur128=peak=true:framelog=verbose');
    expect(after(measure, '-ss')).toBe('5');
    expect(after(measure, '-map')).toBe('0:a:1');
    expect(plan({}).args).not.toContain('-af');
    expect(parseLoudnormReport(LOUDNORM_LOG.replace('-35.02', '-inf'))).toBeUndefined();
    expect(parseLoudnormReport('no report')).toBeUndefined();
  });

  it('chooses the stream by index or language, and names what the video has when it lacks it', () => {
    expect(chooseAudioStream(probe, undefined).index).toBe(0);
    expect(chooseAudioStream(probe, { language: 'eng' }).index).toBe(1);
    expect(after(plan({ audioTrack: { language: 'eng' } }).args, '-map')).toBe('0:a:1');
    for (const choice of [{ language: 'deu' }, { index: 2 }]) {
      try {
        chooseAudioStream(probe, choice);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(BadInputError);
        expect((error as BadInputError).code).toBe('AUDIO_TRACK_NOT_FOUND');
        expect((error as BadInputError).message).toContain('0 (fra), 1 (eng)');
      }
    }
  });

  it('writes chapters from a file of its own, shifted by the trim, or none', () => {
    expect(planChapters(probe.chapters, { start: 5, end: 25, wanted: true })).toEqual([
      { title: 'Intro', startSeconds: 0, endSeconds: 5 },
      { title: 'Talk', startSeconds: 5, endSeconds: 15 },
      { title: 'Q&A', startSeconds: 15, endSeconds: 20 },
    ]);
    expect(planChapters(probe.chapters, { start: 12, end: 18, wanted: true })).toEqual([
      { title: 'Talk', startSeconds: 0, endSeconds: 6 },
    ]);
    expect(planChapters(probe.chapters, { start: 0, end: 30, wanted: false })).toEqual([]);
    const withChapters = plan({});
    expect(withChapters.args).toEqual(expect.arrayContaining(['-i', '/tmp/chapters.ffmeta']));
    expect(after(withChapters.args, '-map_chapters')).toBe('1');
    const without = plan({ chapters: false });
    expect(without.args).not.toContain('/tmp/chapters.ffmeta');
    expect(after(without.args, '-map_chapters')).toBe('-1');
    expect(formatFfmetadata([{ title: 'a=b;c#d\\e', startSeconds: 1.5, endSeconds: 2 }])).toBe(
      ';FFMETADATA1\n[CHAPTER]\nTIMEBASE=1/1000\nSTART=1500\nEND=2000\ntitle=a\\=b\\;c\\#de\n',
    );
  });

  it('tells errors from the rest of a tagged ffmpeg log', () => {
    expect(errorLines(LOUDNORM_LOG)).toBe('');
    expect(errorLines('[info] fine\n[mp3 @ 0x1] [error] bad frame\n  more of it\n[info] ok')).toBe(
      'bad frame\nmore of it',
    );
    expect(errorLines('untagged failure')).toBe('untagged failure');
  });
});

describe('reelflux convert: --loudness, --true-peak, --track, --no-chapters', () => {
  const parse = (values: Partial<OptionValues>) => mp3Options(values);

  it('turns the flags into MP3 options', () => {
    expect(parse({ loudness: 'podcast', track: 'eng', 'no-chapters': true })).toEqual({
      loudness: { preset: 'PODCAST' },
      audioTrack: { language: 'eng' },
      chapters: false,
    });
    expect(parse({ loudness: 'Broadcast' })).toEqual({ loudness: { preset: 'BROADCAST' } });
    expect(parse({ loudness: '-18.5', 'true-peak': '-2', track: '1' })).toEqual({
      loudness: { targetLufs: -18.5, truePeakDb: -2 },
      audioTrack: { index: 1 },
    });
  });

  it.each([
    [{ loudness: 'loud' }, '--loudness takes podcast, streaming, broadcast or a LUFS target'],
    [{ 'true-peak': '-1' }, '--true-peak goes with --loudness'],
    [{ loudness: '-16', 'true-peak': 'x' }, '--true-peak must be a number'],
    [{ track: 'english!' }, '--track takes a language code'],
  ] as const)('refuses %o', (values, message) => {
    expect(() => parse(values)).toThrow(UsageError);
    expect(() => parse(values)).toThrow(message);
  });
});

describe('the web form: loudness, track and chapters', () => {
  it('sends only what differs from the defaults', () => {
    expect(toMp3Options(DEFAULT_MP3_CHOICE)).toEqual({});
    const chosen = { ...DEFAULT_MP3_CHOICE, loudness: 'PODCAST', track: 'ENG', chapters: false };
    expect(toMp3Options(chosen as typeof DEFAULT_MP3_CHOICE)).toEqual({
      loudness: { preset: 'PODCAST' },
      audioTrack: { language: 'eng' },
      chapters: false,
    });
    expect(toMp3Options({ ...DEFAULT_MP3_CHOICE, track: ' 1 ' })).toEqual({
      audioTrack: { index: 1 },
    });
  });
});

const LOUDNORM_LOG = `[info] Output #0, null, to 'pipe:':
[warning] Guessed Channel Layout for Input Stream #0.0 : mono
[Parsed_loudnorm_0 @ 0x55ea4331cac0] [info] 
{
	"input_i" : "-35.02",
	"input_tp" : "-18.78",
	"input_lra" : "0.00",
	"input_thresh" : "-45.30",
	"output_i" : "-16.03",
	"output_tp" : "-1.00",
	"output_lra" : "1.00",
	"output_thresh" : "-26.03",
	"normalization_type" : "dynamic",
	"target_offset" : "0.03"
}
`;

const EBUR128_LOG = `[Parsed_ebur128_0 @ 0x55c32bf36880] [info] Summary:

  Integrated loudness:
    I:         -35.0 LUFS
    Threshold: -45.3 LUFS

  Loudness range:
    LRA:         1.2 LU
    Threshold: -55.4 LUFS
    LRA low:   -35.8 LUFS
    LRA high:  -34.6 LUFS

  True peak:
    Peak:      -30.5 dBFS
`;

describe('chapter titles from an uploaded file', () => {
  it('cannot add chapters or keys to the FFMETADATA file ffmpeg reads', () => {
    const hostile = [
      'a\r[CHAPTER]\rTIMEBASE=1/1\rSTART=0\rEND=99\rtitle=injected',
      'ends in a backslash\\',
      'line\nbreak',
      'keeps = ; # escaped',
    ];
    const text = formatFfmetadata(
      planChapters(
        hostile.map((title, i) => ({ title, startSeconds: i * 10, endSeconds: i * 10 + 10 })),
        { start: 0, end: 40, wanted: true },
      ),
    );
    expect(text).not.toMatch(/\r/);
    expect(text.match(/^\[CHAPTER\]$/gm)).toHaveLength(4);
    expect(text.match(/^title=/gm)).toHaveLength(4);
    expect(text).toContain('title=a[CHAPTER]TIMEBASE\\=1/1START\\=0END\\=99title\\=injected\n');
    expect(text).toContain('title=ends in a backslash\n[CHAPTER]');
    expect(text).toContain('title=keeps \\= \\; \\# escaped\n');
  });
});
