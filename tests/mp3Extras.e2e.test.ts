import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import {
  dominantFrequencyHz,
  makeChapteredVideo,
  makeLoudnessSource,
  makeTwoLanguageVideo,
  measureEbur128,
  readId3Chapters,
} from './helpers/audioChecks.js';
import { signUpToken } from './helpers/authOperations.js';
import { conversionUntil } from './helpers/conversionState.js';
import { probeMp3 } from './helpers/fixtures.js';
import { postGraphQL } from './helpers/graphql.js';
import { multipartUpload, uploadVideoId } from './helpers/multipartUpload.js';
import { useStack } from './helpers/useStack.js';

interface Loudness {
  mode: string;
  targetLufs: number;
  inputLufs: number;
  outputLufs: number;
  truePeakDb: number;
  rangeLu: number;
}
interface View {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  options: { loudness: { targetLufs: number; truePeakDb: number } | null; chapters: boolean };
  audio: {
    downloadUrl: string;
    loudness: Loudness | null;
    chapters: { title: string; startSeconds: number; endSeconds: number }[];
  } | null;
}

const FIELDS =
  'id status error { code message } options { loudness { targetLufs truePeakDb } chapters } ' +
  'audio { downloadUrl loudness { mode targetLufs inputLufs outputLufs truePeakDb rangeLu } ' +
  'chapters { title startSeconds endSeconds } }';

/**
 * Loudness, audio track and chapters through the whole stack: the options go up with the
 * upload (or with "convert again"), the MP3 comes down, and it is measured by means that are
 * not the worker's (ebur128, a zero-crossing count, the tests' own ID3 reader).
 */
describe('MP3 options past the encoder, end to end', () => {
  const suite = useStack('extras', { MAX_RUNNING_CONVERSIONS_PER_USER: '8' });
  const { infra } = suite;
  let token: string;
  beforeAll(async () => {
    token = await signUpToken(suite.stack.graphqlUrl);
  });

  const upload = (file: Buffer, mp3: Record<string, unknown>, filename = 'clip.mkv') =>
    uploadVideoId(suite.stack.graphqlUrl, file, { token, mp3, filename });
  const finished = (id: string) =>
    conversionUntil<View>(suite.stack.graphqlUrl, token, id, {
      fields: FIELDS,
      done: (c) => isFinalStatus(c.status),
      timeoutMs: 60_000,
    });
  const download = async (view: View) => {
    const bytes = Buffer.from(await (await fetch(view.audio?.downloadUrl ?? '')).arrayBuffer());
    const path = join(mkdtempSync(join(tmpdir(), 'reelflux-e2e-mp3-')), 'out.mp3');
    writeFileSync(path, bytes);
    return { bytes, path };
  };

  it('normalizes a quiet talk to the podcast target, then again to broadcast in two passes', async () => {
    const source = readFileSync(makeLoudnessSource(infra.ffmpegPath, 'speech', -35));
    const id = await upload(source, { loudness: { preset: 'PODCAST' } }, 'talk.mkv');
    const done = await finished(id);
    expect(done.status).toBe('SUCCEEDED');
    expect(done.options.loudness).toEqual({ targetLufs: -16, truePeakDb: -1 });
    const mp3 = await download(done);
    const measured = measureEbur128(infra.ffmpegPath, mp3.path);
    expect(Math.abs(measured.integratedLufs + 16)).toBeLessThanOrEqual(1);
    expect(measured.truePeakDb).toBeLessThanOrEqual(-1);
    const reported = done.audio?.loudness;
    // Whichever path ran (the upload may have been whole before the job began), it says which.
    expect(['SINGLE_PASS_DYNAMIC', 'TWO_PASS_LINEAR', 'TWO_PASS_DYNAMIC']).toContain(
      reported?.mode,
    );
    expect(Math.abs((reported?.inputLufs ?? 0) + 35)).toBeLessThan(1);
    expect(Math.abs((reported?.outputLufs ?? 0) - measured.integratedLufs)).toBeLessThan(1);
    expect(probeMp3(infra.ffprobePath, mp3.bytes).codec).toBe('mp3');

    // Converting again reads the stored file: two passes, one gain where the peaks allow it.
    const again = await postGraphQL<{ convertVideo: { id: string } }>(
      suite.stack.graphqlUrl,
      'mutation ($v: ID!) { convertVideo(videoId: $v, mp3: { loudness: { preset: BROADCAST } }) { id } }',
      { token, variables: { v: id } },
    );
    const second = await finished(again.body.data?.convertVideo.id ?? '');
    expect(second.status).toBe('SUCCEEDED');
    expect(second.audio?.loudness?.mode).toBe('TWO_PASS_LINEAR');
    const remeasured = measureEbur128(infra.ffmpegPath, (await download(second)).path);
    expect(Math.abs(remeasured.integratedLufs + 23)).toBeLessThanOrEqual(1);
    expect(
      Math.abs((second.audio?.loudness?.outputLufs ?? 0) - remeasured.integratedLufs),
    ).toBeLessThan(1);
  });

  it('refuses a loudness target out of range naming the field, and stores nothing', async () => {
    const before = await postGraphQL<{ videos: { edges: unknown[] } }>(
      suite.stack.graphqlUrl,
      '{ videos { edges { cursor } } }',
      { token },
    );
    const answer = await multipartUpload(suite.stack.graphqlUrl, Buffer.from('x'.repeat(1000)), {
      token,
      mp3: { loudness: { targetLufs: -40 } },
      filename: 'clip.mkv',
    });
    expect(answer.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'mp3.loudness.targetLufs',
    });
    const after = await postGraphQL<{ videos: { edges: unknown[] } }>(
      suite.stack.graphqlUrl,
      '{ videos { edges { cursor } } }',
      { token },
    );
    expect(after.body.data?.videos.edges.length).toBe(before.body.data?.videos.edges.length);
  });

  it('lists the audio streams, takes the English one, and fails a language the video lacks', async () => {
    const video = makeTwoLanguageVideo(infra.ffmpegPath);
    const id = await upload(video, { audioTrack: { language: 'eng' } }, 'langs.mkv');
    const done = await finished(id);
    expect(done.status).toBe('SUCCEEDED');
    const hz = dominantFrequencyHz(infra.ffmpegPath, (await download(done)).path);
    expect(Math.abs(hz - 440)).toBeLessThan(440 * 0.06);
    const streams = await postGraphQL<{ video: { audioStreams: unknown[] } }>(
      suite.stack.graphqlUrl,
      'query ($v: ID!) { video(id: $v) { audioStreams { index language codec channels title } } }',
      { token, variables: { v: id } },
    );
    expect(streams.body.data?.video.audioStreams).toEqual([
      { index: 0, language: 'fra', codec: 'aac', channels: 1, title: 'Français' },
      { index: 1, language: 'eng', codec: 'aac', channels: 1, title: 'English' },
    ]);

    const missing = await finished(await upload(video, { audioTrack: { language: 'deu' } }));
    expect(missing).toMatchObject({ status: 'FAILED', audio: null });
    expect(missing.error?.code).toBe('AUDIO_TRACK_NOT_FOUND');
  });

  it('writes chapters with a CTOC, lists them, shifts them by a trim, and leaves them out when asked', async () => {
    const video = makeChapteredVideo(infra.ffmpegPath, ['Intro', 'Talk', 'Q&A'], 4);
    const [whole, trimmed, none] = await Promise.all([
      upload(video, {}),
      upload(video, { startSeconds: 2 }),
      upload(video, { chapters: false }),
    ]);
    const wholeDone = await finished(whole);
    const frames = readId3Chapters((await download(wholeDone)).bytes);
    expect(frames.chapters.map((c) => [c.title, c.startSeconds, c.endSeconds])).toEqual([
      ['Intro', 0, 4],
      ['Talk', 4, 8],
      ['Q&A', 8, 12],
    ]);
    expect(frames.tocs).toHaveLength(1);
    expect(frames.tocs[0]?.children).toEqual(frames.chapters.map((c) => c.id));
    expect(wholeDone.audio?.chapters.map((c) => c.title)).toEqual(['Intro', 'Talk', 'Q&A']);
    expect(wholeDone.options.chapters).toBe(true);

    const trimmedDone = await finished(trimmed);
    expect(
      readId3Chapters((await download(trimmedDone)).bytes).chapters.map((c) => c.startSeconds),
    ).toEqual([0, 2, 6]);
    expect(trimmedDone.audio?.chapters.map((c) => c.startSeconds)).toEqual([0, 2, 6]);

    const noneDone = await finished(none);
    expect(noneDone.options.chapters).toBe(false);
    expect(readId3Chapters((await download(noneDone)).bytes)).toEqual({ chapters: [], tocs: [] });
    expect(noneDone.audio?.chapters).toEqual([]);
  });
});
