import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { ReelfluxError, type ServerError } from '../ReelfluxError.js';
import { bearer } from './postGraphQL.js';

/** What a resumable upload sends, and where it stands. */
export interface ResumableUploadRequest {
  /** The router's base URL (`/uploads/` is added). */
  url: string;
  token: string | undefined;
  /** The file on disk; it is read from the offset the server has, never whole. */
  path: string;
  /**
   * The bytes to send from byte `from` on, when they are not the file as it is on disk (the
   * SDK sends a moov-last MP4 in faststart order). @default the file at `path`, from `from`
   */
  open?: (from: number) => Readable;
  /** The number of bytes sent in all (Upload-Length). */
  size: number;
  filename: string;
  /** The MP3 options, sent as JSON in Upload-Metadata `mp3`. */
  mp3?: Record<string, unknown>;
  /** An upload begun earlier (its URL), to resume rather than create. */
  resumeUrl?: string;
  /** Told the upload's URL once created, so a later process can resume it. */
  onCreated?: (uploadUrl: string) => void | Promise<void>;
  /** Bytes the server has or is being sent, of `total`. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /**
   * Waits between tries after a network error, a 5xx, 409 or 423 (the last one repeats). A try
   * that moved the offset forward starts the series again.
   * @default [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000]
   */
  retryDelaysMs?: readonly number[];
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

const DEFAULT_DELAYS = [500, 1000, 2000, 4000, 8000, 8000, 8000, 8000];

/** A failure worth another try: the network, the server for a while, or a request racing. */
class Retryable extends Error {}

/**
 * A tus 1.0 client on Node's http: creates the upload (or takes `resumeUrl`), then sends the
 * file from the offset the server has, asking it again with HEAD after each network error and
 * going on from there, so a dropped connection costs only the bytes in flight. Resolves with
 * the upload's URL once the server has every byte; its last path segment is the video's id.
 */
export async function sendResumable(upload: ResumableUploadRequest): Promise<string> {
  const delays = upload.retryDelaysMs ?? DEFAULT_DELAYS;
  let resumeUrl = upload.resumeUrl;
  let uploadUrl = resumeUrl;
  let failures = 0;
  let best = -1;
  for (;;) {
    try {
      if (uploadUrl === undefined) {
        uploadUrl = await create(upload);
        await upload.onCreated?.(uploadUrl);
      }
      const offset = await headOffset(upload, uploadUrl);
      if (offset > best) {
        best = offset;
        failures = 0;
      }
      // Sent from the server's offset, even at the end: an upload whole on the server but not yet
      // made a video (its process stopped between the two) is finished by an empty PATCH, and
      // one already finished answers at once.
      if ((await patch(upload, uploadUrl, offset)) >= upload.size) return uploadUrl;
    } catch (error) {
      // An upload to resume that expired or was removed: begin a new one.
      if (
        error instanceof ReelfluxError &&
        (error.code === 'NOT_FOUND' || error.code === 'UPLOAD_EXPIRED') &&
        uploadUrl !== undefined &&
        uploadUrl === resumeUrl &&
        best <= 0
      ) {
        uploadUrl = undefined;
        resumeUrl = undefined;
        continue;
      }
      if (!(error instanceof Retryable) || upload.signal?.aborted) {
        throw upload.signal?.aborted
          ? new ReelfluxError('CANCELLED', 'upload cancelled', { cause: error })
          : error;
      }
      const wait = delays[Math.min(failures, delays.length - 1)];
      failures++;
      if (wait === undefined || failures > delays.length) {
        throw new ReelfluxError('NETWORK_ERROR', `upload failed: ${error.message}`, {
          cause: error,
        });
      }
      await sleep(wait, undefined, upload.signal ? { signal: upload.signal } : {}).catch(
        () => undefined,
      );
    }
  }
}

/** How long a request may go without a byte either way before it counts as cut. */
const IDLE_TIMEOUT_MS = 60_000;

function metadata(upload: ResumableUploadRequest): string {
  const pairs: [string, string][] = [['filename', upload.filename]];
  if (upload.mp3 && Object.keys(upload.mp3).length > 0) {
    pairs.push(['mp3', JSON.stringify(upload.mp3)]);
  }
  return pairs.map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`).join(',');
}

async function create(upload: ResumableUploadRequest): Promise<string> {
  const base = new URL(`${upload.url.replace(/\/+$/, '')}/uploads/`);
  const answer = await send(upload, base.href, 'POST', {
    'upload-length': String(upload.size),
    'upload-metadata': metadata(upload),
  });
  const location = answer.headers.location;
  if (answer.status !== 201 || typeof location !== 'string') throw refusal(answer);
  const uploadUrl = new URL(location, base);
  // The token goes to every request for the upload: never to another server than this one.
  if (uploadUrl.origin !== base.origin) {
    throw new ReelfluxError(
      'BAD_REQUEST',
      `the server named an upload on another origin (${uploadUrl.origin})`,
    );
  }
  return uploadUrl.href;
}

async function headOffset(upload: ResumableUploadRequest, url: string): Promise<number> {
  const answer = await send(upload, url, 'HEAD', {});
  const offset = Number(answer.headers['upload-offset']);
  if (answer.status !== 200 || !Number.isSafeInteger(offset)) throw refusal(answer);
  return offset;
}

/** Sends the bytes from `offset` on; resolves with the offset the server then has. */
async function patch(upload: ResumableUploadRequest, url: string, offset: number): Promise<number> {
  const answer = await send(
    upload,
    url,
    'PATCH',
    {
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset),
      'content-length': String(upload.size - offset),
    },
    offset,
  );
  const reached = Number(answer.headers['upload-offset']);
  if (answer.status !== 204 || !Number.isSafeInteger(reached)) throw refusal(answer);
  return reached;
}

/** A refusal: retried when it may pass later, else a ReelfluxError with the server's code. */
function refusal(answer: Answer): Error {
  const retry = answer.status >= 500 || answer.status === 409 || answer.status === 423;
  let errors: ServerError[] | undefined;
  try {
    errors = (JSON.parse(answer.text) as { errors?: ServerError[] }).errors;
  } catch {
    errors = undefined;
  }
  if (retry) return new Retryable(`the server answered ${answer.status}`);
  if (errors?.length) return ReelfluxError.fromErrors(errors, answer.status);
  return new ReelfluxError('NETWORK_ERROR', `the upload was answered ${answer.status}`, {
    status: answer.status,
  });
}

/** One request; with `from`, the file's bytes from there are its body, streamed. */
function send(
  upload: ResumableUploadRequest,
  url: string,
  method: string,
  headers: Record<string, string>,
  from?: number,
): Promise<Answer> {
  const target = new URL(url);
  const request = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = request(target, {
      method,
      headers: { 'tus-resumable': '1.0.0', ...bearer(upload.token), ...headers },
      ...(upload.signal ? { signal: upload.signal } : {}),
    });
    const file =
      from === undefined
        ? undefined
        : (upload.open?.(from) ?? createReadStream(upload.path, { start: from }));
    const fail = (error: Error) => {
      file?.destroy();
      reject(new Retryable(error.message));
    };
    req.on('error', fail);
    // A connection that went quiet (half-open, a stalled proxy) is a network error like any
    // other: the upload asks where it stands and goes on.
    req.setTimeout(IDLE_TIMEOUT_MS, () => req.destroy(new Error('no traffic for 60 s')));
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => (text += piece));
      res.on('error', fail);
      res.on('end', () => {
        // Answered before the body was all sent (a refusal): this connection is spent.
        if (file && !file.readableEnded) {
          file.unpipe(req);
          file.destroy();
          req.destroy();
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text });
      });
    });
    if (!file || from === undefined) {
      req.end();
      return;
    }
    let sent = from;
    file.on('data', (chunk: Buffer | string) => {
      sent += chunk.length;
      upload.onProgress?.(sent, upload.size);
    });
    // A file that cannot be read is not the network's fault: no retry.
    file.on('error', (error: Error) => {
      req.destroy();
      reject(new ReelfluxError('BAD_REQUEST', `cannot read ${upload.path}: ${error.message}`));
    });
    file.pipe(req);
  });
}
