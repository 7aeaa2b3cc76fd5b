import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** ffmpeg, quiet and overwriting, reading a source that lavfi generates (named next). */
const GENERATED_INPUT = ['-v', 'error', '-y', '-f', 'lavfi', '-i'];

export interface VideoOptions {
  audio?: 'aac' | 'mp3' | 'none';
  sampleRateHz?: number;
  channels?: number;
  /** `mov` writes what a phone does: QuickTime, H.264 and AAC, its index (moov) last. */
  container?: 'mp4' | 'mkv' | 'mov';
  /** MP4 with its index (moov) first, as a file for the web has it; ffmpeg writes it last. */
  faststart?: boolean;
  /** Chapter titles, of equal length: an MP4 or MOV then has a chapter (text) track. */
  chapters?: readonly string[];
  /** Uncompressed video (rawvideo) at this size: a large file fast, e.g. `640x480`. */
  rawVideoSize?: string;
}

/**
 * Media made by ffmpeg's lavfi sources (nothing binary is committed). `seconds` of a test
 * pattern and a tone, H.264/AAC in MP4 unless `audio` and `container` say otherwise.
 */
export function makeVideo(ffmpegPath: string, seconds = 3, options: VideoOptions = {}): Buffer {
  const out = join(
    mkdtempSync(join(tmpdir(), 'reelflux-fixture-')),
    `clip.${options.container ?? 'mp4'}`,
  );
  writeVideo(ffmpegPath, out, seconds, options);
  return readFileSync(out);
}

/** As `makeVideo`, written to `path` (its extension names the container) and not read back. */
export function writeVideo(
  ffmpegPath: string,
  path: string,
  seconds: number,
  options: VideoOptions = {},
): void {
  const audio = options.audio ?? 'aac';
  const layout = options.channels === 6 ? '5.1' : options.channels === 1 ? 'mono' : 'stereo';
  const video = options.rawVideoSize
    ? [`testsrc=size=${options.rawVideoSize}:rate=25:duration=${seconds}`, '-c:v', 'rawvideo']
    : [`testsrc=size=160x120:rate=10:duration=${seconds}`, '-c:v', 'libx264'];
  execFileSync(ffmpegPath, [
    ...GENERATED_INPUT,
    video[0] ?? '',
    ...(audio === 'none'
      ? []
      : [
          '-f',
          'lavfi',
          '-i',
          `sine=frequency=440:sample_rate=${options.sampleRateHz ?? 48000}:duration=${seconds},aformat=channel_layouts=${layout}`,
        ]),
    ...chapterArgs(path, seconds, options.chapters, audio === 'none' ? 1 : 2),
    ...video.slice(1),
    ...(options.rawVideoSize ? [] : ['-preset', 'ultrafast']),
    ...(audio === 'aac'
      ? ['-c:a', 'aac']
      : audio === 'mp3'
        ? ['-c:a', 'libmp3lame', '-b:a', '96k']
        : []),
    '-shortest',
    ...(options.faststart ? ['-movflags', '+faststart'] : []),
    path,
  ]);
}

/** An ffmetadata input with the chapters, mapped as the file's (input `index`). */
function chapterArgs(
  path: string,
  seconds: number,
  titles: readonly string[] | undefined,
  index: number,
): string[] {
  if (!titles?.length) return [];
  const each = Math.floor((seconds * 1000) / titles.length);
  const chapters = titles.map(
    (title, i) =>
      `[CHAPTER]\nTIMEBASE=1/1000\nSTART=${i * each}\nEND=${(i + 1) * each}\ntitle=${title}\n`,
  );
  const metadata = `${path}.chapters.txt`;
  writeFileSync(metadata, `;FFMETADATA1\n${chapters.join('')}`);
  const streams = Array.from({ length: index }, (_, i) => ['-map', String(i)]).flat();
  return ['-i', metadata, ...streams, '-map_chapters', String(index)];
}

/**
 * A sine tone of `seconds` written to `path`, encoded as `encode` says (codec, and `-f` where the
 * extension does not name the container).
 */
export function writeTone(
  ffmpegPath: string,
  path: string,
  seconds: number,
  encode: readonly string[],
  sampleRateHz = 48_000,
): void {
  execFileSync(ffmpegPath, [
    ...GENERATED_INPUT,
    `sine=frequency=330:sample_rate=${sampleRateHz}:duration=${seconds}`,
    ...encode,
    path,
  ]);
}

/** A small PNG (a red square): a file people upload by mistake. */
export function makeImage(ffmpegPath: string): Buffer {
  return execFileSync(ffmpegPath, [
    ...['-v', 'error', '-f', 'lavfi', '-i', 'color=c=red:s=64x64'],
    ...['-frames:v', '1', '-c:v', 'png', '-f', 'image2pipe', 'pipe:1'],
  ]);
}

/** Audio only, long and cheap to make: for jobs that must still be running a few seconds in. */
export function makeLongAudio(ffmpegPath: string, seconds: number): Buffer {
  const out = join(mkdtempSync(join(tmpdir(), 'reelflux-fixture-')), 'long.mp4');
  writeTone(ffmpegPath, out, seconds, ['-c:a', 'aac', '-b:a', '24k'], 22_050);
  return readFileSync(out);
}

/** `size` bytes that sniff as MP4 (a real ftyp box, then noise): for size tests, not for ffmpeg. */
export function mp4Shaped(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 32; i + 4 <= size; i += 4096) buffer.writeUInt32LE((i * 2654435761) >>> 0, i);
  Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex').copy(
    buffer,
  );
  return buffer;
}

export interface Mp3Facts {
  codec: string;
  durationSeconds: number;
  bitrateKbps: number;
  sampleRateHz: number;
  channels: number;
  tags: Record<string, string>;
}

/** What ffprobe says of an MP3 we downloaded. */
export function probeMp3(ffprobePath: string, mp3: Buffer): Mp3Facts {
  const path = join(mkdtempSync(join(tmpdir(), 'reelflux-probe-')), 'out.mp3');
  writeFileSync(path, mp3);
  const json = JSON.parse(
    execFileSync(ffprobePath, [
      '-v',
      'error',
      '-show_format',
      '-show_streams',
      '-of',
      'json',
      path,
    ]).toString(),
  ) as {
    format: { duration: string; bit_rate: string; tags?: Record<string, string> };
    streams: { codec_name: string; sample_rate: string; channels: number }[];
  };
  const stream = json.streams[0];
  return {
    codec: stream?.codec_name ?? 'none',
    durationSeconds: Number(json.format.duration),
    bitrateKbps: Math.round(Number(json.format.bit_rate) / 1000),
    sampleRateHz: Number(stream?.sample_rate ?? 0),
    channels: stream?.channels ?? 0,
    tags: Object.fromEntries(
      Object.entries(json.format.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
    ),
  };
}
