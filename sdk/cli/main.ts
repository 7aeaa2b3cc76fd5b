#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  createReelfluxClient,
  type Conversion,
  type Mp3Options,
  type ReelfluxClient,
} from '../createReelfluxClient.js';
import { ReelfluxError } from '../ReelfluxError.js';
import { createProgress, formatBytes, type Progress } from './createProgress.js';
import { loadCredentials, saveCredentials } from './credentials.js';

/** Exit codes, for scripts (also in `reelflux --help` and the README). */
export const EXIT = {
  OK: 0,
  FAILED: 1,
  USAGE: 2,
  UNAUTHENTICATED: 3,
  NOT_FOUND: 4,
  UNAVAILABLE: 5,
  INTERRUPTED: 130,
} as const;

const USAGE = `Usage: reelflux <command> [options]

Commands:
  signup --email E            create an account (password asked, or read from stdin)
  login --email E             log in; the token is kept in your config folder (mode 0600)
  convert <video> [-o out.mp3] [--bitrate N | --vbr Q] [--mono] [--sample-rate HZ]
          [--start S] [--end S] [--title T] [--artist A]
                              upload, convert and download in one go (Ctrl-C cancels)
  status <conversion-id>      a conversion's state
  download <conversion-id> [-o out.mp3]
  ls [--limit N]              your videos, newest first, with their latest conversion
  history <video-id> [--limit N]
                              a video's conversions, newest first

Options: --url URL (or REELFLUX_URL), --json (one JSON document on stdout, no progress),
         -h, --help. REELFLUX_TOKEN overrides the stored token.
Exit codes: 0 done, 1 failed, 2 usage, 3 not logged in, 4 not found, 5 unavailable,
            130 interrupted.
`;

const OPTIONS = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  email: { type: 'string' },
  output: { type: 'string', short: 'o' },
  bitrate: { type: 'string' },
  vbr: { type: 'string' },
  mono: { type: 'boolean' },
  'sample-rate': { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  title: { type: 'string' },
  artist: { type: 'string' },
  limit: { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Values = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    return usage((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return values.help ? EXIT.OK : EXIT.USAGE;
  }
  const credentials = await loadCredentials();
  const url = values.url ?? credentials.url;
  const client = createReelfluxClient({
    url,
    ...(credentials.token ? { token: credentials.token } : {}),
  });
  const json = values.json === true;
  const progress = createProgress(
    json ? 'off' : process.stderr.isTTY ? 'bar' : 'lines',
    process.stderr,
  );
  const print = (human: string, machine: unknown) =>
    process.stdout.write(json ? `${JSON.stringify(machine, null, 2)}\n` : `${human}\n`);

  try {
    switch (command) {
      case 'signup':
      case 'login': {
        const email = values.email ?? usageError(`${command} needs --email`);
        const password = await readPassword();
        const payload =
          command === 'signup'
            ? await client.signUp(email, password)
            : await client.logIn(email, password);
        const where = await saveCredentials({ url, token: payload.token, email });
        print(
          `${command === 'signup' ? 'Signed up' : 'Logged in'} as ${email} (token in ${where})`,
          {
            user: payload.user,
            expiresAt: payload.expiresAt,
          },
        );
        return EXIT.OK;
      }
      case 'convert':
        return await convert(client, rest, values, progress, print);
      case 'status': {
        const conversion = await client.conversion(one(rest, 'status needs a conversion id'));
        print(describe(conversion), conversion);
        return conversion.status === 'FAILED' ? EXIT.FAILED : EXIT.OK;
      }
      case 'download': {
        const conversion = await client.conversion(one(rest, 'download needs a conversion id'));
        if (conversion.status !== 'SUCCEEDED' || !conversion.audio) {
          throw new ReelfluxError('NOT_FOUND', `conversion is ${conversion.status}, no MP3 yet`);
        }
        const output = values.output ?? `${stem(conversion.video.filename)}.mp3`;
        const result = await client.download(conversion.audio, output, {
          onProgress: (done, total) =>
            progress.update('download', total ? done / total : undefined, formatBytes(done)),
        });
        progress.note('download', `done, ${formatBytes(result.bytes)}`);
        print(output, { output, bytes: result.bytes });
        return EXIT.OK;
      }
      case 'ls': {
        const page = await client.videos(positiveInt(values.limit ?? '20', 'limit'));
        const videos = page.edges.map((edge) => edge.node);
        print(
          videos
            .map(
              (v) =>
                `${v.id}  ${(v.latestConversion?.status ?? '-').padEnd(9)}  ${formatBytes(v.bytes).padStart(10)}  ${v.filename}`,
            )
            .join('\n') || '(no videos)',
          videos,
        );
        return EXIT.OK;
      }
      case 'history': {
        const page = await client.conversions(
          one(rest, 'history needs a video id'),
          positiveInt(values.limit ?? '20', 'limit'),
        );
        const conversions = page.edges.map((edge) => edge.node);
        print(
          conversions.map((c) => `${c.id}  ${describe(c)}`).join('\n') || '(no conversions)',
          conversions,
        );
        return EXIT.OK;
      }
      default:
        return usage(`unknown command "${command}"`);
    }
  } catch (error) {
    return fail(error, json);
  }
}

async function convert(
  client: ReelfluxClient,
  positionals: string[],
  values: Values,
  progress: Progress,
  print: (human: string, machine: unknown) => void,
): Promise<number> {
  const path = one(positionals, 'convert needs a video file');
  if (!existsSync(path)) throw new UsageError(`no such file: ${path}`);
  const controller = new AbortController();
  let interrupts = 0;
  const onInterrupt = () => {
    interrupts += 1;
    // A second Ctrl-C does not wait for the cancel to reach the server.
    if (interrupts > 1) process.exit(EXIT.INTERRUPTED);
    progress.note('convert', 'cancelling…');
    controller.abort();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const result = await client.convertFile(
      path,
      { mp3: mp3Options(values), ...(values.output ? { output: values.output } : {}) },
      {
        signal: controller.signal,
        onUploadProgress: (done, total) =>
          progress.update(
            'upload',
            total ? done / total : undefined,
            `${formatBytes(done)}${total ? ` of ${formatBytes(total)}` : ''}`,
          ),
        onUpdate: (conversion) => {
          if (conversion.status === 'RUNNING') {
            progress.update('convert', conversion.progress ?? 0, 'running');
          } else progress.note('convert', conversion.status.toLowerCase());
        },
        onDownloadProgress: (done, total) =>
          progress.update('download', total ? done / total : undefined, formatBytes(done)),
      },
    );
    const { audio } = result.conversion;
    progress.note(
      'done',
      `${result.output} (${formatBytes(audio?.bytes ?? 0)}, ${audio?.durationSeconds.toFixed(1)} s, ${audio?.bitrateKbps} kbps)`,
    );
    print(result.output, {
      output: result.output,
      videoId: result.video.id,
      conversionId: result.conversion.id,
      status: result.conversion.status,
      audio,
    });
    return EXIT.OK;
  } catch (error) {
    if (controller.signal.aborted) {
      progress.note('convert', 'cancelled');
      return EXIT.INTERRUPTED;
    }
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function mp3Options(values: Values): Mp3Options {
  const options: Mp3Options = {};
  if (values.bitrate !== undefined) options.bitrateKbps = positiveInt(values.bitrate, 'bitrate');
  if (values.vbr !== undefined) options.vbrQuality = nonNegative(values.vbr, 'vbr', true);
  if (values.mono) options.channels = 1;
  if (values['sample-rate'] !== undefined)
    options.sampleRateHz = positiveInt(values['sample-rate'], 'sample-rate');
  if (values.start !== undefined) options.startSeconds = nonNegative(values.start, 'start');
  if (values.end !== undefined) options.endSeconds = nonNegative(values.end, 'end');
  if (values.title !== undefined) options.title = values.title;
  if (values.artist !== undefined) options.artist = values.artist;
  return options;
}

function describe(c: Conversion): string {
  const lines = [
    `${c.id}  ${c.status}${c.status === 'RUNNING' ? ` ${Math.round((c.progress ?? 0) * 100)}%` : ''}  ${c.video.filename}`,
  ];
  if (c.error) lines.push(`error: ${c.error.code}: ${c.error.message}`);
  if (c.audio)
    lines.push(
      `mp3: ${formatBytes(c.audio.bytes)}, ${c.audio.durationSeconds.toFixed(1)} s, ${c.audio.bitrateKbps} kbps`,
    );
  return lines.join('\n');
}

/** Hidden prompt on a terminal; otherwise the first line of stdin (for scripts). */
async function readPassword(): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    const lines = createInterface({ input });
    for await (const line of lines) {
      lines.close();
      return line;
    }
    throw new UsageError('no password on stdin');
  }
  process.stderr.write('Password: ');
  input.setRawMode(true);
  input.resume();
  let password = '';
  return new Promise((resolve, reject) => {
    const onData = (data: Buffer) => {
      for (const char of data.toString('utf8')) {
        if (char === '\r' || char === '\n') {
          input.setRawMode(false);
          input.pause();
          input.off('data', onData);
          process.stderr.write('\n');
          resolve(password);
          return;
        }
        if (char === '\u0003') {
          input.setRawMode(false);
          reject(new ReelfluxError('CANCELLED', 'cancelled'));
          return;
        }
        password = char === '\u007f' ? password.slice(0, -1) : password + char;
      }
    };
    input.on('data', onData);
  });
}

function fail(error: unknown, json: boolean): number {
  if (error instanceof UsageError) return usage(error.message);
  const known = error instanceof ReelfluxError;
  const code = known ? error.code : 'INTERNAL_ERROR';
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } }, null, 2)}\n`);
  process.stderr.write(`reelflux: ${code}: ${message}\n`);
  if (code === 'UNAUTHENTICATED')
    process.stderr.write('Log in with `reelflux login --email you@example.com`.\n');
  return exitCodeFor(code);
}

export function exitCodeFor(code: string): number {
  switch (code) {
    case 'UNAUTHENTICATED':
    case 'FORBIDDEN':
      return EXIT.UNAUTHENTICATED;
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'BAD_USER_INPUT':
    case 'BAD_REQUEST':
      return EXIT.USAGE;
    case 'NETWORK_ERROR':
    case 'SERVICE_UNAVAILABLE':
    case 'CONNECTION_CLOSED':
      return EXIT.UNAVAILABLE;
    case 'CANCELLED':
      return EXIT.INTERRUPTED;
    default:
      return EXIT.FAILED;
  }
}

function usage(message: string): number {
  process.stderr.write(`reelflux: ${message}\n\n${USAGE}`);
  return EXIT.USAGE;
}

function usageError(message: string): never {
  throw new UsageError(message);
}

function one(positionals: string[], message: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(message);
  return positionals[0];
}

function positiveInt(value: string, name: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new UsageError(`--${name} must be a positive integer`);
  return number;
}

function nonNegative(value: string, name: string, integer = false): number {
  const number = Number(value);
  if (
    value.trim() === '' ||
    !Number.isFinite(number) ||
    number < 0 ||
    (integer && !Number.isInteger(number))
  ) {
    throw new UsageError(`--${name} must be a non-negative ${integer ? 'integer' : 'number'}`);
  }
  return number;
}

function stem(filename: string): string {
  return basename(filename).replace(/\.[^.]*$/, '') || 'audio';
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`reelflux: ${String(error)}\n`);
    process.exit(EXIT.FAILED);
  },
);
