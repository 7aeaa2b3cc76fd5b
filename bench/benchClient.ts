import { randomBytes, randomUUID } from 'node:crypto';
import { execFileSync, spawn } from 'node:child_process';
import {
  closeSync,
  createReadStream,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { isFinalStatus } from '../lib/contracts/conversionStatus.js';
import { fromRoot } from '../lib/platform/projectRoot.js';
import { createReelfluxClient, ReelfluxError, type Mp3Options } from '../sdk/index.js';

/** A fresh account for one benchmark run, through the SDK; returns its token. */
export async function signUpBenchUser(graphqlUrl: string): Promise<string> {
  const reelflux = createReelfluxClient({ url: graphqlUrl });
  const { token } = await reelflux.signUp(
    `bench-${randomUUID()}@example.com`,
    'benchmark password',
  );
  return token;
}

/**
 * Uploads a file the way a user would, with the SDK streaming it from disk (multipart);
 * returns the video id.
 */
export async function uploadBenchFile(
  graphqlUrl: string,
  token: string,
  path: string,
  mp3: Mp3Options = {},
  /** Bytes per second sent at most, as a slower network would. */
  limitRate?: number,
): Promise<string> {
  const reelflux = createReelfluxClient({ url: graphqlUrl, token });
  const video = limitRate
    ? await reelflux.uploadVideo(readThrottled(path, limitRate), {
        mp3,
        filename: basename(path),
        size: statSync(path).size,
      })
    : await reelflux.uploadVideo(path, { mp3 });
  return video.id;
}

/** A file read no faster than `bytesPerSecond` on average, in 64 KiB chunks. */
function readThrottled(path: string, bytesPerSecond: number): Readable {
  const started = performance.now();
  let read = 0;
  const pace = new Transform({
    transform(chunk: Buffer, _encoding, next) {
      read += chunk.length;
      const due = started + (read / bytesPerSecond) * 1000;
      setTimeout(() => next(null, chunk), Math.max(0, due - performance.now()));
    },
  });
  return createReadStream(path, { highWaterMark: 64 * 1024 }).pipe(pace);
}

/**
 * `.local/bench/<name>`, made by ffmpeg from lavfi sources with `args` the first time and
 * reused by later runs. Nothing binary is committed.
 */
function generatedOnce(ffmpegPath: string, name: string, args: string[]): string {
  const dir = fromRoot('.local', 'bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  if (existsSync(path)) return path;
  process.stdout.write(`generating ${path} …\n`);
  execFileSync(ffmpegPath, ['-v', 'error', '-y', ...args, path]);
  return path;
}

/**
 * A benchmark source video: a test pattern and a tone, H.264/AAC. Its MP4 index (moov) comes
 * last, as ffmpeg, phones and cameras write it; `faststart` puts it first, as files made for
 * the web have it.
 */
export function benchVideo(
  ffmpegPath: string,
  options: { seconds: number; size: string; videoKbps: number; audio: string; faststart?: boolean },
): string {
  return generatedOnce(
    ffmpegPath,
    `source-${options.seconds}s-${options.size}-${options.videoKbps}k${options.faststart ? '-faststart' : ''}.mp4`,
    [
      ...['-f', 'lavfi', '-i', `testsrc2=size=${options.size}:rate=24:duration=${options.seconds}`],
      ...['-f', 'lavfi', '-i', `${options.audio}:d=${options.seconds}`],
      ...['-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', `${options.videoKbps}k`],
      ...['-c:a', 'aac', '-b:a', '128k', '-shortest'],
      ...(options.faststart ? ['-movflags', '+faststart'] : []),
    ],
  );
}

/** A benchmark audio file: `seconds` of a tone, AAC at 32 kbps (long to convert, small to store). */
export function benchAudio(ffmpegPath: string, seconds: number): string {
  return generatedOnce(ffmpegPath, `tone-${seconds}s-32k.m4a`, [
    ...['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`],
    ...['-c:a', 'aac', '-b:a', '32k'],
  ]);
}

/**
 * `size` bytes of noise that media's sniffing takes for an MP4 (a real `ftyp` box first), for
 * benchmarks that measure moving bytes, not converting them.
 */
export function writeMp4ShapedNoise(path: string, size: number): void {
  const MB = 2 ** 20;
  const fd = openSync(path, 'w');
  const block = randomBytes(MB);
  Buffer.from('000000206674797069736f6d0000020069736f6d69736f32617663316d703431', 'hex').copy(
    block,
  );
  for (let written = 0; written < size; written += MB) {
    writeSync(fd, block, 0, Math.min(MB, size - written));
  }
  closeSync(fd);
}

/** Resident memory of each direct child of `ppid` whose command line mentions `needle`. */
export function rssOf(ppid: number, needle: string): number {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent !== ppid || !readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle))
        continue;
      const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, 'utf8'));
      return Number(match?.[1] ?? 0) * 1024;
    } catch {
      // the process went away between listing and reading
    }
  }
  return 0;
}

/**
 * Polls a conversion every `intervalMs` until it is SUCCEEDED and returns its MP3's download
 * URL; the conversion exists moments after the upload, once its event is consumed.
 */
export async function waitForMp3(
  graphqlUrl: string,
  token: string,
  id: string,
  intervalMs = 100,
): Promise<string> {
  const reelflux = createReelfluxClient({ url: graphqlUrl, token });
  for (;;) {
    const conversion = await reelflux.conversion(id).catch((error: unknown) => {
      if (error instanceof ReelfluxError && error.code === 'NOT_FOUND') return undefined;
      throw error;
    });
    if (conversion?.status === 'SUCCEEDED' && conversion.audio) return conversion.audio.downloadUrl;
    if (conversion && isFinalStatus(conversion.status)) {
      throw new Error(`conversion ${id} ${conversion.status}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

const TONE = `0.4*sin(2*PI*(220+40*sin(2*PI*0.3*t))*t)+0.15*sin(2*PI*1760*t)*sin(2*PI*0.5*t)`;

/** The conversion benchmarks' source: 720p H.264 at 1.5 Mbit/s, a modulated two-tone signal. */
export function bench720p(ffmpegPath: string, seconds: number, faststart = false): string {
  return benchVideo(ffmpegPath, {
    seconds,
    size: '1280x720',
    videoKbps: 1500,
    audio: `aevalsrc=${TONE}|${TONE}:s=48000`,
    faststart,
  });
}

/**
 * A large video with its index first, about `mb` MB: a 60 s 720p clip at 30 Mbit/s, repeated
 * (`-stream_loop`, streams copied), so making it takes seconds per GB, not minutes.
 */
export function bigStreamable(ffmpegPath: string, mb: number): string {
  const clip = benchVideo(ffmpegPath, {
    seconds: 60,
    size: '1280x720',
    videoKbps: 30_000,
    audio: `aevalsrc=${TONE}|${TONE}:s=48000`,
  });
  const loops = Math.max(0, Math.ceil((mb * 2 ** 20) / statSync(clip).size) - 1);
  return generatedOnce(ffmpegPath, `big-${loops + 1}x-faststart.mp4`, [
    ...['-stream_loop', String(loops), '-i', clip],
    ...['-c', 'copy', '-movflags', '+faststart'],
  ]);
}

/** The baseline: plain `ffmpeg -i input -vn -c:a libmp3lame -b:a 192k output`. */
export function plainFfmpeg(ffmpegPath: string, input: string, output: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const child = spawn(ffmpegPath, [
      ...['-v', 'error', '-y', '-i', input],
      ...['-vn', '-c:a', 'libmp3lame', '-b:a', '192k', output],
    ]);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg ${code}`))));
  });
}

/** Seconds plain ffmpeg takes to convert `input` `count` times, two processes at a time. */
export async function plainTwoAtATime(
  ffmpegPath: string,
  input: string,
  dir: string,
  count: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < count; i += 2) {
    await Promise.all([
      plainFfmpeg(ffmpegPath, input, join(dir, `p${i}.mp3`)),
      plainFfmpeg(ffmpegPath, input, join(dir, `p${i + 1}.mp3`)),
    ]);
  }
  return (performance.now() - started) / 1000;
}
