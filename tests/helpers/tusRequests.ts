import { request, type IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

/** One answer of the tus route: status, headers, and the JSON error body if any. */
export interface TusAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  code: string | undefined;
}

/**
 * One raw tus request, as a plain HTTP client (curl, a phone's uploader) sends it: no SDK in
 * between. `body` is sent whole (a Buffer) or streamed (a Readable, with `length`).
 */
export function tusRequest(
  url: string,
  options: {
    method: string;
    token?: string;
    headers?: Record<string, string>;
    body?: Buffer | Readable;
  },
): Promise<TusAnswer> {
  const headers: Record<string, string> = {
    'tus-resumable': '1.0.0',
    ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    ...options.headers,
  };
  if (Buffer.isBuffer(options.body)) headers['content-length'] = String(options.body.length);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (piece: string) => (text += piece));
      res.on('error', reject);
      res.on('end', () => {
        let code: string | undefined;
        try {
          code = (JSON.parse(text) as { errors?: { extensions?: { code?: string } }[] }).errors?.[0]
            ?.extensions?.code;
        } catch {
          code = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, code });
      });
    });
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/** The Upload-Metadata value for `pairs`, base64 as tus has it. */
export function uploadMetadata(pairs: Record<string, string>): string {
  return Object.entries(pairs)
    .map(([key, value]) => `${key} ${Buffer.from(value).toString('base64')}`)
    .join(',');
}

/** POST /uploads/: a new upload of `length` bytes; resolves with its URL (absolute). */
export async function createUpload(
  routerUrl: string,
  token: string,
  length: number,
  metadata: Record<string, string> = { filename: 'clip.mp4' },
): Promise<string> {
  const answer = await tusRequest(`${routerUrl}/uploads/`, {
    method: 'POST',
    token,
    headers: { 'upload-length': String(length), 'upload-metadata': uploadMetadata(metadata) },
  });
  if (answer.status !== 201 || typeof answer.headers.location !== 'string') {
    throw new Error(`creation answered ${answer.status} ${answer.code}`);
  }
  return new URL(answer.headers.location, routerUrl).href;
}

/** PATCH `bytes` at `offset`. */
export function patchUpload(
  url: string,
  token: string,
  offset: number,
  body: Buffer | Readable,
  length?: number,
): Promise<TusAnswer> {
  return tusRequest(url, {
    method: 'PATCH',
    token,
    headers: {
      'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset),
      ...(length === undefined ? {} : { 'content-length': String(length) }),
    },
    body,
  });
}
