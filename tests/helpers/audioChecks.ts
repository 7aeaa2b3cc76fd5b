import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Checks on audio the worker made, by means that are not the worker's: ffmpeg's `ebur128`
 * filter (the worker uses `loudnorm`), a zero-crossing count over decoded PCM, and an ID3v2
 * reader of our own (ffprobe shares its ID3 code with the muxer that wrote the frames).
 */

/** EBU R128 figures of a file, by ffmpeg's ebur128 filter with true peak. */
export interface Ebur128 {
  integratedLufs: number;
  rangeLu: number;
  truePeakDb: number;
}

export function measureEbur128(ffmpegPath: string, path: string): Ebur128 {
  // ebur128 logs its summary at info level; -f null writes nothing.
  const run = spawnSync(
    ffmpegPath,
    ['-hide_banner', '-nostats', '-i', path, '-af', 'ebur128=peak=true', '-f', 'null', '-'],
    { encoding: 'utf8' },
  );
  const summary = run.stderr.slice(run.stderr.lastIndexOf('Summary:'));
  const figure = (pattern: RegExp) => {
    const found = pattern.exec(summary);
    if (!found?.[1]) throw new Error(`ebur128 printed no ${String(pattern)}:\n${summary}`);
    return Number(found[1]);
  };
  return {
    integratedLufs: figure(/I:\s+(-?[\d.]+) LUFS/),
    rangeLu: figure(/LRA:\s+(-?[\d.]+) LU/),
    truePeakDb: figure(/Peak:\s+(-?[\d.]+) dBFS/),
  };
}

/**
 * A source at about `lufs` integrated loudness, FLAC in Matroska: `speech`, pink noise in
 * syllable-like bursts with pauses; `music`, a chord over noise. Made, measured, and scaled once.
 */
export function makeLoudnessSource(
  ffmpegPath: string,
  kind: 'speech' | 'music',
  lufs: number,
  seconds = 20,
): string {
  const dir = mkdtempSync(join(tmpdir(), 'reelflux-loud-'));
  const raw = join(dir, 'raw.wav');
  const graph =
    kind === 'speech'
      ? `anoisesrc=color=pink:sample_rate=48000:amplitude=0.5:duration=${seconds},` +
        `bandpass=f=800:width_type=o:w=2,` +
        `volume='(0.55+0.45*sin(2*PI*4*t))*if(lt(mod(t,2.5),1.8),1,0.03)':eval=frame`
      : `aevalsrc='0.3*sin(2*PI*220*t)+0.3*sin(2*PI*277*t)+0.3*sin(2*PI*330*t)':` +
        `sample_rate=48000:duration=${seconds}`;
  execFileSync(ffmpegPath, [
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    graph,
    '-c:a',
    'pcm_f32le',
    raw,
  ]);
  const gain = lufs - measureEbur128(ffmpegPath, raw).integratedLufs;
  const out = join(dir, `${kind}.mkv`);
  execFileSync(ffmpegPath, [
    ...['-v', 'error', '-y', '-i', raw],
    ...['-af', `volume=${gain.toFixed(2)}dB`, '-c:a', 'pcm_f32le', out],
  ]);
  return out;
}

/**
 * A Matroska file with a test pattern and two audio tracks: French at 880 Hz first, then English
 * at 440 Hz, so ffmpeg's default (the first) is the wrong one for `{ language: "eng" }`.
 */
export function makeTwoLanguageVideo(ffmpegPath: string, seconds = 3): Buffer {
  const out = join(mkdtempSync(join(tmpdir(), 'reelflux-langs-')), 'langs.mkv');
  execFileSync(ffmpegPath, [
    ...['-v', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=880:sample_rate=48000:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...['-map', '0:v', '-map', '1:a', '-map', '2:a', '-c:v', 'libx264', '-preset', 'ultrafast'],
    ...['-c:a', 'aac', '-metadata:s:a:0', 'language=fra', '-metadata:s:a:0', 'title=Français'],
    ...['-metadata:s:a:1', 'language=eng', '-metadata:s:a:1', 'title=English', out],
  ]);
  return readFileSync(out);
}

/** A Matroska video with a tone and chapters `titles`, each `chapterSeconds` long. */
export function makeChapteredVideo(
  ffmpegPath: string,
  titles: readonly string[],
  chapterSeconds: number,
): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'reelflux-chapters-'));
  const meta = join(dir, 'chapters.txt');
  writeFileSync(
    meta,
    [
      ';FFMETADATA1',
      ...titles.flatMap((title, n) => [
        '[CHAPTER]',
        'TIMEBASE=1/1000',
        `START=${n * chapterSeconds * 1000}`,
        `END=${(n + 1) * chapterSeconds * 1000}`,
        `title=${title}`,
      ]),
      '',
    ].join('\n'),
  );
  const seconds = titles.length * chapterSeconds;
  const out = join(dir, 'chapters.mkv');
  execFileSync(ffmpegPath, [
    ...['-v', 'error', '-y'],
    ...['-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10:duration=${seconds}`],
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...['-i', meta, '-map', '0:v', '-map', '1:a', '-map_chapters', '2'],
    ...['-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', out],
  ]);
  return readFileSync(out);
}

/** The dominant frequency of a file's audio, from zero crossings of its decoded mono PCM. */
export function dominantFrequencyHz(ffmpegPath: string, path: string): number {
  const pcm = execFileSync(
    ffmpegPath,
    ['-v', 'error', '-i', path, '-ac', '1', '-ar', '48000', '-f', 's16le', '-'],
    { maxBuffer: 64 * 2 ** 20 },
  );
  const samples = new Int16Array(pcm.buffer, pcm.byteOffset, Math.floor(pcm.length / 2));
  let crossings = 0;
  for (let i = 1; i < samples.length; i++) {
    const a = samples[i - 1] ?? 0;
    const b = samples[i] ?? 0;
    if ((a < 0 && b >= 0) || (a >= 0 && b < 0)) crossings++;
  }
  return crossings / 2 / (samples.length / 48_000);
}

/** An ID3v2 chapter frame (CHAP), times in seconds. */
export interface Id3Chapter {
  id: string;
  title: string | undefined;
  startSeconds: number;
  endSeconds: number;
}

/** What readId3Chapters finds: each CHAP frame, and the CTOC frames (their child ids). */
export interface Id3ChapterFrames {
  chapters: Id3Chapter[];
  tocs: { id: string; topLevel: boolean; ordered: boolean; children: string[] }[];
}

/**
 * Reads CHAP and CTOC frames (ID3v2.3/2.4, per the "ID3v2 Chapter Frame Addendum") from the
 * tag at the start of an MP3, and each chapter's TIT2 sub-frame.
 */
export function readId3Chapters(mp3: Buffer): Id3ChapterFrames {
  if (mp3.toString('latin1', 0, 3) !== 'ID3') return { chapters: [], tocs: [] };
  const major = mp3[3] ?? 3;
  const end = 10 + synchsafe(mp3, 6);
  const cString = (body: Buffer, at: number) => {
    const zero = body.indexOf(0, at);
    return { text: body.toString('latin1', at, zero), next: zero + 1 };
  };
  const text = (body: Buffer) => {
    const encoding = body[0];
    const raw = body.subarray(1);
    const decoded =
      encoding === 1 || encoding === 2
        ? new TextDecoder(encoding === 1 ? 'utf-16' : 'utf-16be').decode(raw)
        : raw.toString(encoding === 3 ? 'utf8' : 'latin1');
    return decoded.replace(/\0+$/, '');
  };
  const result: Id3ChapterFrames = { chapters: [], tocs: [] };
  for (const frame of subFrames(mp3.subarray(10, end), major)) {
    const { body } = frame;
    if (frame.id === 'CHAP') {
      const { text: id, next } = cString(body, 0);
      const title = subFrames(body.subarray(next + 16), major).find((f) => f.id === 'TIT2');
      result.chapters.push({
        id,
        title: title ? text(title.body) : undefined,
        startSeconds: body.readUInt32BE(next) / 1000,
        endSeconds: body.readUInt32BE(next + 4) / 1000,
      });
    } else if (frame.id === 'CTOC') {
      const { text: id, next } = cString(body, 0);
      const flags = body[next] ?? 0;
      const count = body[next + 1] ?? 0;
      const children: string[] = [];
      let at = next + 2;
      for (let i = 0; i < count; i++) {
        const child = cString(body, at);
        children.push(child.text);
        at = child.next;
      }
      result.tocs.push({ id, topLevel: (flags & 2) !== 0, ordered: (flags & 1) !== 0, children });
    }
  }
  return result;
}

/** The frames inside a CHAP or CTOC body. */
function subFrames(body: Buffer, major: number): { id: string; body: Buffer }[] {
  const found: { id: string; body: Buffer }[] = [];
  let at = 0;
  while (at + 10 <= body.length) {
    const id = body.toString('latin1', at, at + 4);
    if (!/^[A-Z0-9]{4}$/.test(id)) break;
    const size = major === 4 ? synchsafe(body, at + 4) : body.readUInt32BE(at + 4);
    found.push({ id, body: body.subarray(at + 10, at + 10 + size) });
    at += 10 + size;
  }
  return found;
}

/** A 28-bit integer stored 7 bits a byte (ID3v2 sizes). */
function synchsafe(bytes: Buffer, at: number): number {
  return (
    ((bytes[at] ?? 0) << 21) |
    ((bytes[at + 1] ?? 0) << 14) |
    ((bytes[at + 2] ?? 0) << 7) |
    (bytes[at + 3] ?? 0)
  );
}
