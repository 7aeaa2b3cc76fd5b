import { createReadStream, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import type { Mp3Options } from '../lib/contracts/mp3Options.js';
import { BadInputError } from '../worker/BadInputError.js';
import { describeMp3 } from '../worker/describeMp3.js';
import { createConversionPlanner } from '../worker/pipeline/createConversionPlanner.js';
import type { MediaTools } from '../worker/pipeline/types.js';
import { probeMedia } from '../worker/probeMedia.js';
import { runFfmpeg } from '../worker/runFfmpeg.js';
import {
  dominantFrequencyHz,
  makeChapteredVideo,
  makeLoudnessSource,
  makeTwoLanguageVideo,
  measureEbur128,
  readId3Chapters,
} from './helpers/audioChecks.js';

/**
 * The MP3 options past the encoder (loudness, audio track, chapters) through the worker's
 * planner and real ffmpeg, on both paths: `stored` (the whole file: two-pass loudness) and
 * `realtime` (ffmpeg on a pipe: single-pass). Each MP3 is checked by other means: ebur128,
 * a zero-crossing count, an ID3 reader of the tests' own.
 */
describe('MP3 options with real ffmpeg', () => {
  const infra = inject('infra');
  const tools: MediaTools = {
    probe: (path) => probeMedia(infra.ffprobePath, path),
    ffmpeg: (args, options) => runFfmpeg(infra.ffmpegPath, args, options),
  };
  const run = { signal: new AbortController().signal, timeoutMs: () => 60_000 };

  /** Converts `source` as the worker would; `path` chooses how ffmpeg reads it. */
  async function convert(source: string, options: Mp3Options, path: 'stored' | 'realtime') {
    const dir = mkdtempSync(join(tmpdir(), 'reelflux-extras-'));
    const output = join(dir, 'output.mp3');
    const planner = createConversionPlanner({
      tools,
      maxMediaSeconds: 3600,
      record: { options, filename: 'clip.mkv' },
      outputPath: output,
      chaptersPath: join(dir, 'chapters.ffmeta'),
    });
    const whole = readFileSync(source);
    const plan =
      path === 'stored'
        ? await planner.forFile(source, run)
        : (
            await planner.forStream(
              { streamability: { kind: 'stream', headBytes: whole.length }, head: whole },
              join(dir, 'head'),
            )
          ).plan;
    if (!plan) throw new Error('no stream plan');
    const ran = await tools.ffmpeg(plan.args, {
      ...(path === 'realtime' ? { input: createReadStream(source) } : {}),
      expectedSeconds: plan.expectedSeconds,
      timeoutMs: 60_000,
      signal: run.signal,
      onProgress: () => undefined,
    });
    expect(ran.errors).toBe('');
    expect(await planner.check(plan)).toBeDefined();
    return { output, mp3: readFileSync(output), plan, ...describeMp3(plan, ran.log ?? '') };
  }

  const file = (name: string, bytes: Buffer) => {
    const path = join(mkdtempSync(join(tmpdir(), 'reelflux-extras-')), name);
    writeFileSync(path, bytes);
    return path;
  };

  describe('loudness', () => {
    const sources = {
      quiet: () => makeLoudnessSource(infra.ffmpegPath, 'speech', -35),
      loud: () => makeLoudnessSource(infra.ffmpegPath, 'music', -8),
    };
    // Two passes give one gain unless it would push the true peak past its limit: the speech
    // source peaks 17 dB over its loudness, so +19 dB of gain cannot stay under -1 dBTP, and
    // loudnorm limits it dynamically (TWO_PASS_DYNAMIC); the loud one comes down linearly.
    it.each([
      ['quiet', 'stored', -16, 'TWO_PASS_DYNAMIC'],
      ['loud', 'stored', -14, 'TWO_PASS_LINEAR'],
      ['quiet', 'realtime', -16, 'SINGLE_PASS_DYNAMIC'],
      ['loud', 'realtime', -23, 'SINGLE_PASS_DYNAMIC'],
      ['quiet', 'stored', -23, 'TWO_PASS_LINEAR'],
    ] as const)(
      'brings a %s source to its target on the %s path (%d LUFS, %s)',
      async (kind, path, target, mode) => {
        const source = sources[kind]();
        const before = measureEbur128(infra.ffmpegPath, source);
        expect(Math.abs(before.integratedLufs - (kind === 'quiet' ? -35 : -8))).toBeLessThan(1);
        const made = await convert(
          source,
          { loudness: { targetLufs: target, truePeakDb: -1 } },
          path,
        );
        const after = measureEbur128(infra.ffmpegPath, made.output);
        console.log(
          `loudness ${kind} ${path}: source ${before.integratedLufs} LUFS → MP3 ${after.integratedLufs} LUFS, ` +
            `true peak ${after.truePeakDb} dBTP, LRA ${after.rangeLu} LU; reported ${JSON.stringify(made.loudness)}`,
        );
        expect(Math.abs(after.integratedLufs - target)).toBeLessThanOrEqual(1);
        expect(after.truePeakDb).toBeLessThanOrEqual(-1);
        expect(made.loudness?.mode).toBe(mode);
        expect(made.loudness?.targetLufs).toBe(target);
        // What is reported is what an independent meter reads, of the source and of the MP3.
        expect(Math.abs((made.loudness?.inputLufs ?? 0) - before.integratedLufs)).toBeLessThan(1);
        expect(Math.abs((made.loudness?.outputLufs ?? 0) - after.integratedLufs)).toBeLessThan(1);
        expect(made.loudness?.truePeakDb).toBeLessThanOrEqual(-1);
      },
    );
  });

  describe('audio track', () => {
    const video = () => file('langs.mkv', makeTwoLanguageVideo(infra.ffmpegPath));

    it('lists the audio streams with language, codec, channels and title', async () => {
      const probe = await tools.probe(video());
      expect(probe.audioStreams).toEqual([
        expect.objectContaining({ index: 0, language: 'fra', codec: 'aac', title: 'Français' }),
        expect.objectContaining({ index: 1, language: 'eng', codec: 'aac', title: 'English' }),
      ]);
    });

    it.each([
      ['language eng', 440, { language: 'eng' }],
      ['language fra', 880, { language: 'fra' }],
      ['index 1', 440, { index: 1 }],
      ['the default (the first)', 880, undefined],
    ] as const)('takes %s: a %i Hz MP3', async (_, hz, audioTrack) => {
      for (const path of ['stored', 'realtime'] as const) {
        const made = await convert(video(), audioTrack ? { audioTrack } : {}, path);
        const measured = dominantFrequencyHz(infra.ffmpegPath, made.output);
        // An octave apart; the encoders' silent padding counts no crossings.
        expect(Math.abs(measured - hz)).toBeLessThan(hz * 0.06);
      }
    });

    it('refuses a language the video lacks with AUDIO_TRACK_NOT_FOUND', async () => {
      const failed = await convert(video(), { audioTrack: { language: 'deu' } }, 'stored').catch(
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(BadInputError);
      expect((failed as BadInputError).code).toBe('AUDIO_TRACK_NOT_FOUND');
      expect((failed as BadInputError).message).toMatch(/deu.*0 \(fra\), 1 \(eng\)/);
    });
  });

  describe('chapters', () => {
    const video = () =>
      file('chapters.mkv', makeChapteredVideo(infra.ffmpegPath, ['Intro', 'Talk', 'Q&A'], 10));

    it('writes CHAP×3 and a top-level ordered CTOC with titles and times, and lists them', async () => {
      for (const path of ['stored', 'realtime'] as const) {
        const made = await convert(video(), {}, path);
        const frames = readId3Chapters(made.mp3);
        expect(frames.chapters.map((c) => [c.title, c.startSeconds, c.endSeconds])).toEqual([
          ['Intro', 0, 10],
          ['Talk', 10, 20],
          ['Q&A', 20, 30],
        ]);
        expect(frames.tocs).toEqual([
          {
            id: expect.any(String) as unknown,
            topLevel: true,
            ordered: true,
            children: frames.chapters.map((c) => c.id),
          },
        ]);
        expect(made.chapters).toEqual([
          { title: 'Intro', startSeconds: 0, endSeconds: 10 },
          { title: 'Talk', startSeconds: 10, endSeconds: 20 },
          { title: 'Q&A', startSeconds: 20, endSeconds: 30 },
        ]);
      }
    });

    it('shifts them by a trim and cuts them at its ends', async () => {
      const made = await convert(video(), { startSeconds: 5, endSeconds: 25 }, 'stored');
      const expected = [
        ['Intro', 0, 5],
        ['Talk', 5, 15],
        ['Q&A', 15, 20],
      ];
      expect(
        readId3Chapters(made.mp3).chapters.map((c) => [c.title, c.startSeconds, c.endSeconds]),
      ).toEqual(expected);
      expect(made.chapters.map((c) => [c.title, c.startSeconds, c.endSeconds])).toEqual(expected);
    });

    it('writes none with chapters: false', async () => {
      const made = await convert(video(), { chapters: false }, 'stored');
      expect(readId3Chapters(made.mp3)).toEqual({ chapters: [], tocs: [] });
      expect(made.chapters).toEqual([]);
    });
  });
});
