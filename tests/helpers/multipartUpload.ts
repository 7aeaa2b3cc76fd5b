import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Readable } from 'node:stream';
import { encodeExtValue } from '../../lib/contracts/filenameParameters.js';

export interface UploadResult {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    errors?: { message: string; extensions?: Record<string, unknown> }[];
  };
}

export interface UploadOptions {
  token?: string;
  filename?: string;
  mimetype?: string;
  mp3?: Record<string, unknown>;
  /** Override the parts entirely (malformed-request tests). */
  rawParts?: { name: string; value: string | Buffer; filename?: string }[];
  preflight?: boolean;
  /** Stop sending after this many file bytes and drop the connection. */
  abortAfterBytes?: number;
  /** Sent verbatim as the file part's `filename*` value (malformed-header tests). */
  filenameStar?: string;
  /** The GraphQL selection on Video. */
  selection?: string;
}

const UPLOAD = (selection: string) =>
  `mutation ($file: Upload!, $mp3: Mp3Options) { uploadVideo(file: $file, mp3: $mp3) { ${selection} } }`;

/**
 * A GraphQL multipart request (the spec's operations, map, file parts) written by hand on a
 * real socket, the file streamed from a Buffer or a Readable.
 */
export function multipartUpload(
  url: string,
  file: Buffer | Readable,
  options: UploadOptions = {},
): Promise<UploadResult> {
  const boundary = `----test${randomBytes(8).toString('hex')}`;
  const part = (name: string, value: string, filename?: string, type?: string) =>
    `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${
      filename === undefined
        ? ''
        : `; filename="upload"; filename*=UTF-8''${options.filenameStar ?? encodeExtValue(filename)}`
    }\r\n${type ? `Content-Type: ${type}\r\n` : ''}\r\n${value}`;
  const headers: Record<string, string> = {
    'content-type': `multipart/form-data; boundary=${boundary}`,
  };
  if (options.preflight !== false) headers['apollo-require-preflight'] = 'true';
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        try {
          resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as UploadResult['body'] });
        } catch {
          reject(new Error(`non-JSON answer ${res.statusCode}: ${text.slice(0, 300)}`));
        }
      });
    });
    let aborting = false;
    req.on('error', (error) => (aborting ? resolve({ status: 0, body: {} }) : reject(error)));

    // A whole body in memory goes out with its Content-Length, as browsers, curl and the SDK
    // send files; a stream goes out chunked.
    const sendWhole = (pieces: (string | Buffer)[]) => {
      const body = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
      req.setHeader('content-length', body.length);
      req.end(body);
    };
    if (options.rawParts) {
      sendWhole([
        ...options.rawParts.flatMap((raw) => [
          part(raw.name, '', raw.filename, raw.filename ? 'application/octet-stream' : undefined),
          raw.value,
          '\r\n',
        ]),
        `--${boundary}--\r\n`,
      ]);
      return;
    }
    const operations = JSON.stringify({
      query: UPLOAD(options.selection ?? 'id filename contentType bytes sha256'),
      variables: { file: null, mp3: options.mp3 ?? null },
    });
    const head =
      part('operations', operations) +
      '\r\n' +
      part('map', JSON.stringify({ 0: ['variables.file'] })) +
      '\r\n' +
      part('0', '', options.filename ?? 'clip.mp4', options.mimetype ?? 'video/mp4');
    if (Buffer.isBuffer(file) && options.abortAfterBytes === undefined) {
      sendWhole([head, file, `\r\n--${boundary}--\r\n`]);
      return;
    }
    req.write(head);
    if (Buffer.isBuffer(file)) {
      // The client goes away after abortAfterBytes of the file.
      aborting = true;
      req.write(file.subarray(0, options.abortAfterBytes), () =>
        setTimeout(() => {
          req.destroy();
          resolve({ status: 0, body: {} });
        }, 300),
      );
    } else {
      file.pipe(req, { end: false });
      file.on('end', () => req.end(`\r\n--${boundary}--\r\n`));
      // A source that fails is a client gone mid-upload: the connection drops, as with
      // abortAfterBytes.
      file.on('error', () => {
        aborting = true;
        req.destroy();
        resolve({ status: 0, body: {} });
      });
    }
  });
}

/** Uploads `file` and returns the new video's id, or throws with the response body. */
export async function uploadVideoId(
  graphqlUrl: string,
  file: Buffer,
  options: Omit<UploadOptions, 'selection'> = {},
): Promise<string> {
  const result = await multipartUpload(graphqlUrl, file, { ...options, selection: 'id' });
  const id = (result.body.data?.uploadVideo as { id?: string } | undefined)?.id;
  if (!id) throw new Error(JSON.stringify(result.body));
  return id;
}
