import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { describe, expect, inject, it } from 'vitest';
import { openFaststartUpload } from '../sdk/faststart/openFaststartUpload.js';
import { writeVideo } from './helpers/fixtures.js';
import { topLevelTypes } from './helpers/mp4Boxes.js';

/**
 * The faststart remuxer on files ffmpeg wrote the way phones and ffmpeg's defaults do (moov
 * last), through the SDK's upload path: ffmpeg must find moov first, decode the very same
 * frames and samples, and see the box order its own `-movflags +faststart` gives.
 */
describe('faststart on real MOV and MP4 files (ffmpeg)', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(tmpdir(), 'reelflux-faststart-'));
  const ffmpeg = (...args: string[]) =>
    execFileSync(infra.ffmpegPath, ['-v', 'error', ...args], { maxBuffer: 64 * 1024 * 1024 });
  const ffprobe = (...args: string[]) =>
    execFileSync(infra.ffprobePath, args, { maxBuffer: 64 * 1024 * 1024 }).toString();

  /** Sends `input` through the SDK's upload path into a file; what was sent, and how. */
  async function remux(input: string) {
    const upload = await openFaststartUpload(input);
    const output = `${input}.sent`;
    await pipeline(upload.stream, createWriteStream(output));
    expect(statSync(output).size).toBe(upload.size);
    return { output, sent: upload.sent };
  }

  /** The top-level boxes in the order ffprobe's mov demuxer reads them. */
  const probedBoxes = (path: string) => {
    // The trace goes to standard error.
    const { stderr } = spawnSync(infra.ffprobePath, ['-v', 'trace', path], { encoding: 'utf8' });
    return [...stderr.matchAll(/type:'(\w{4})' parent:'root'/g)].map(([, type]) => type);
  };
  /** Every decoded frame's and sample's checksum, of every stream. */
  const decoded = (path: string) =>
    ffmpeg('-i', path, '-map', '0', '-f', 'framemd5', '-')
      .toString()
      .replace(/^#.*\n/gm, '');
  /** Every packet as stored, without decoding: the same samples in the same order. */
  const packets = (path: string) =>
    ffmpeg('-i', path, '-map', '0', '-c', 'copy', '-f', 'framemd5', '-')
      .toString()
      .replace(/^#.*\n/gm, '');

  it('remuxes a moov-last MOV (H.264 + AAC, as a phone writes it): moov first, same frames', async () => {
    const input = join(dir, 'phone.mov');
    writeVideo(infra.ffmpegPath, input, 4, { container: 'mov' });
    expect(probedBoxes(input)).toEqual(['ftyp', 'wide', 'mdat', 'moov']);
    const { output, sent } = await remux(input);
    expect(sent).toBe('faststart');
    expect(probedBoxes(output)).toEqual(['ftyp', 'moov', 'wide', 'mdat']);
    expect(decoded(output)).toBe(decoded(input));
    expect(packets(output)).toBe(packets(input));
    expect(decoded(input).split('\n').length).toBeGreaterThan(40);

    const theirs = join(dir, 'phone.ffmpeg.mov');
    ffmpeg('-i', input, '-map', '0', '-c', 'copy', '-movflags', '+faststart', theirs);
    expect(topLevelTypes(readFileSync(output))).toEqual(topLevelTypes(readFileSync(theirs)));
  });

  it('remuxes a moov-last MP4 with a chapter track: its chapters still read', async () => {
    const input = join(dir, 'chapters.mp4');
    writeVideo(infra.ffmpegPath, input, 4, { chapters: ['Opening', 'Middle', 'Ending'] });
    const chapters = (path: string) =>
      ffprobe('-v', 'error', '-show_chapters', '-of', 'json', path);
    expect(chapters(input)).toContain('Middle');
    const { output, sent } = await remux(input);
    expect(sent).toBe('faststart');
    expect(probedBoxes(output)).toEqual(['ftyp', 'moov', 'free', 'mdat']);
    // ffmpeg reads the chapter titles from the text track's samples, through its stco.
    expect(chapters(output)).toBe(chapters(input));
    const streams = ffprobe(
      '-v',
      'error',
      '-show_entries',
      'stream=codec_type',
      '-of',
      'csv',
      output,
    );
    expect(streams.trim().split('\n')).toEqual(['stream,video', 'stream,audio', 'stream,data']);
    expect(decoded(output)).toBe(decoded(input));
    expect(packets(output)).toBe(packets(input));

    const theirs = join(dir, 'chapters.ffmpeg.mp4');
    ffmpeg('-i', input, '-map', '0', '-c', 'copy', '-movflags', '+faststart', theirs);
    expect(topLevelTypes(readFileSync(output))).toEqual(topLevelTypes(readFileSync(theirs)));
  });

  it('sends a faststart MP4 and a Matroska file byte for byte as they are', async () => {
    for (const [name, options] of [
      ['web.mp4', { faststart: true }],
      ['clip.mkv', { container: 'mkv' as const }],
    ] as const) {
      const input = join(dir, name);
      writeVideo(infra.ffmpegPath, input, 2, options);
      const { output, sent } = await remux(input);
      expect(sent).toBe(name === 'web.mp4' ? 'moov-first' : 'not-mp4');
      expect(readFileSync(output).equals(readFileSync(input))).toBe(true);
    }
  });

  it('streams a ~200 MB moov-last MOV with a small, flat memory', async () => {
    const input = join(dir, 'large.mov');
    writeVideo(infra.ffmpegPath, input, 9, { container: 'mov', rawVideoSize: '640x480' });
    const inputBytes = statSync(input).size;
    expect(inputBytes).toBeGreaterThan(200_000_000);
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const upload = await openFaststartUpload(input);
    const hash = createHash('sha256');
    let sent = 0;
    const started = performance.now();
    for await (const chunk of upload.stream) {
      hash.update(chunk as Buffer);
      sent += (chunk as Buffer).byteLength;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const seconds = (performance.now() - started) / 1000;
    expect(sent).toBe(upload.size);
    const theirs = join(dir, 'large.ffmpeg.mov');
    ffmpeg('-i', input, '-map', '0', '-c', 'copy', '-movflags', '+faststart', theirs);
    const theirBytes = readFileSync(theirs);
    const same = createHash('sha256').update(theirBytes).digest('hex') === hash.digest('hex');
    const MiB = 1024 * 1024;
    console.log(
      `faststart of ${(inputBytes / MiB).toFixed(0)} MiB: ${seconds.toFixed(2)} s, RSS ` +
        `${(before / MiB).toFixed(0)} → peak ${(peak / MiB).toFixed(0)} MiB ` +
        `(+${((peak - before) / MiB).toFixed(1)}); same bytes as ffmpeg +faststart: ${same}`,
    );
    expect(peak - before).toBeLessThan(64 * MiB);
  });
});
