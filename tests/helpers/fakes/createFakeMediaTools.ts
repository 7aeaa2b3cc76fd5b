import { writeFile } from 'node:fs/promises';
import type { ProbeResult } from '../../../worker/probeMedia.js';
import type { MediaTools } from '../../../worker/pipeline/types.js';
import { FfmpegAbortedError } from '../../../worker/runFfmpeg.js';

/** One ffmpeg run, as the fake saw it. */
export interface FfmpegCall {
  /** Whether it read the upload on its standard input (realtime) or the local copy. */
  piped: boolean;
  /** Bytes it read from its standard input. */
  bytesRead: number;
  aborted: boolean;
}

/** ffprobe and ffmpeg stand-ins: every file probes as `seconds` of audio, every run makes an MP3. */
export interface FakeMediaTools extends MediaTools {
  readonly calls: FfmpegCall[];
  /** Settles once ffmpeg has started `count` runs. */
  started(count: number): Promise<void>;
}

export function createFakeMediaTools(seconds = 10): FakeMediaTools {
  const calls: FfmpegCall[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const probed: ProbeResult = {
    demuxer: 'mov,mp4,m4a,3gp,3g2,mj2',
    durationSeconds: seconds,
    audio: { codec: 'aac', channels: 2, sampleRateHz: 48000 },
    audioStreams: [
      { index: 0, language: null, codec: 'aac', channels: 2, sampleRateHz: 48000, title: null },
    ],
    chapters: [],
    bitRate: 128_000,
  };
  return {
    calls,
    started(count) {
      if (calls.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiting.push({ count, resolve }));
    },
    async probe() {
      return probed;
    },
    async ffmpeg(args, options) {
      const call: FfmpegCall = { piped: options.input !== undefined, bytesRead: 0, aborted: false };
      calls.push(call);
      for (const wait of waiting.filter((w) => calls.length >= w.count)) wait.resolve();
      const aborted = () => {
        call.aborted = true;
        options.input?.destroy();
        return new FfmpegAbortedError(options.signal.reason);
      };
      if (options.signal.aborted) throw aborted();
      if (options.input) {
        const stop = new Promise<never>((_, reject) =>
          options.signal.addEventListener('abort', () => reject(aborted()), { once: true }),
        );
        const reading = (async () => {
          for await (const piece of options.input ?? []) call.bytesRead += (piece as Buffer).length;
        })();
        await Promise.race([reading, stop]);
      }
      const output = args.at(-1);
      if (!output) throw new Error('no output in the arguments');
      await writeFile(output, Buffer.alloc(4096, 1));
      options.onProgress(1);
      return { errors: '' };
    },
  };
}
