import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseFfmpegProgress } from './parseFfmpegProgress.js';

/** Stopped through its signal; `reason` is the signal's (an AbortReason from the job handler). */
export class FfmpegAbortedError extends Error {
  override name = 'FfmpegAbortedError';
  constructor(readonly reason: unknown) {
    super(`ffmpeg stopped: ${String(reason)}`);
  }
}
export class FfmpegTimeoutError extends Error {
  override name = 'FfmpegTimeoutError';
}
export class FfmpegFailedError extends Error {
  override name = 'FfmpegFailedError';
  constructor(
    message: string,
    /** ffmpeg's exit status (null when a signal ended it). */
    readonly exitCode: number | null,
  ) {
    super(message);
  }
}

/**
 * Runs ffmpeg with an argument array, reporting progress from `-progress pipe:1`, killing it
 * (SIGKILL: no partial flush matters, the output is discarded) on `signal` or after
 * `timeoutMs`. Resolves on exit 0, with what ffmpeg reported as errors (empty when all went
 * well) and its whole log (`-loglevel level+…`, where loudnorm reports); the caller still
 * validates the output, since ffmpeg can exit 0 having written nothing useful.
 */
export function runFfmpeg(
  ffmpegPath: string,
  args: string[],
  options: {
    expectedSeconds: number;
    timeoutMs: number;
    signal: AbortSignal;
    onProgress: (fraction: number) => void;
    /** Fed to ffmpeg's standard input (`-i pipe:0`), with backpressure; destroyed at exit. */
    input?: Readable;
  },
): Promise<{ errors: string; log: string }> {
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new FfmpegAbortedError(options.signal.reason));
      return;
    }
    const { input } = options;
    const child = spawn(ffmpegPath, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    // ffmpeg may stop reading before the input ends (a trim, a failure): that EPIPE is not an
    // error of the input, and whoever feeds it learns of the exit from the input's destruction.
    child.stdin.on('error', () => undefined);
    if (!input) child.stdin.end();
    else {
      input.pipe(child.stdin);
      // An input destroyed before its end (its upload failed) is not piped to the end.
      input.once('close', () => child.stdin.end());
    }
    let stderr = '';
    let ending: Error | undefined;
    const kill = (error: Error) => {
      ending ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => kill(new FfmpegTimeoutError(`ffmpeg ran past ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const onAbort = () => kill(new FfmpegAbortedError(options.signal.reason));
    options.signal.addEventListener('abort', onAbort, { once: true });

    createInterface({ input: child.stdout }).on('line', (line) => {
      const fraction = parseFfmpegProgress(line, options.expectedSeconds);
      if (fraction !== null) options.onProgress(fraction);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      // The first errors and the last lines (loudnorm reports at the end) are what count.
      if (stderr.length > MAX_LOG_CHARS) {
        stderr = `${stderr.slice(0, LOG_HEAD_CHARS)}\n${stderr.slice(LOG_HEAD_CHARS - MAX_LOG_CHARS)}`;
      }
    });
    child.on('error', (error) => kill(error));
    child.on('close', (code) => {
      clearTimeout(timer);
      input?.destroy();
      options.signal.removeEventListener('abort', onAbort);
      if (ending) reject(ending);
      else if (code === 0) resolve({ errors: errorLines(stderr), log: stderr });
      else
        reject(
          new FfmpegFailedError(
            `ffmpeg exited ${code}: ${(errorLines(stderr) || stderr.trim()).split('\n').slice(-3).join(' | ')}`,
            code,
          ),
        );
    });
  });
}

/** What is kept of ffmpeg's log: its start, and its end, where loudnorm's report is. */
const MAX_LOG_CHARS = 65_536;
const LOG_HEAD_CHARS = 8_192;

/**
 * The lines logged at error level or worse, without their tags. Each line of a `level+` log
 * is tagged (`[error]`, `[info]`, after any `[context @ 0x…]`); an untagged line continues the
 * one before (loudnorm's JSON). A log without tags (`-v error`) is errors throughout.
 */
export function errorLines(log: string): string {
  const tagged =
    /^(?:\[[^\]]* @ [^\]]*\] )?\[(trace|debug|verbose|info|warning|error|fatal|panic)\] ?/;
  let level = 'error';
  const errors: string[] = [];
  for (const line of log.split('\n')) {
    const tag = tagged.exec(line);
    if (tag?.[1]) level = tag[1];
    const text = tag ? line.slice(tag[0].length) : line;
    if (['error', 'fatal', 'panic'].includes(level) && text.trim()) errors.push(text.trim());
  }
  return errors.join('\n');
}
