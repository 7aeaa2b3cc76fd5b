import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { graphqlMultipart } from '../lib/contracts/graphqlMultipart.js';
import { ReelfluxError, type ServerError } from './ReelfluxError.js';

export interface MultipartFile {
  stream: Readable;
  filename: string;
  contentType: string;
  /** Known for files on disk; lets the request carry Content-Length and progress a total. */
  size: number | undefined;
}

export interface GraphQLBody<T> {
  data?: T | null;
  errors?: ServerError[];
}

/**
 * One GraphQL multipart request (operations, map, then the file) streamed as it is read, never
 * held whole. `Apollo-Require-Preflight` tells the server this is no cross-site form post.
 */
export function sendMultipart<T>(options: {
  url: string;
  headers: Record<string, string>;
  query: string;
  variables: Record<string, unknown>;
  /** The variable the file goes into, e.g. `file`. */
  fileVariable: string;
  file: MultipartFile;
  onProgress?: (sentBytes: number, totalBytes: number | undefined) => void;
  signal?: AbortSignal;
}): Promise<GraphQLBody<T>> {
  const { file } = options;
  const framing = graphqlMultipart({
    operation: { query: options.query, variables: options.variables },
    fileVariable: options.fileVariable,
    filename: file.filename,
    fileType: file.contentType,
  });
  const head = Buffer.from(framing.head);
  const tail = Buffer.from(framing.tail);

  const url = new URL(options.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: {
        ...options.headers,
        'content-type': framing.contentType,
        'apollo-require-preflight': 'true',
        ...(file.size === undefined
          ? {}
          : { 'content-length': String(head.length + file.size + tail.length) }),
      },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const fail = (error: unknown) => {
      file.stream.destroy();
      reject(
        error instanceof ReelfluxError
          ? error
          : options.signal?.aborted
            ? new ReelfluxError('CANCELLED', 'upload cancelled', { cause: error })
            : new ReelfluxError('NETWORK_ERROR', `upload failed: ${String(error)}`, {
                cause: error,
              }),
      );
    };
    req.on('error', fail);
    // The server may answer early (too large, unauthenticated) without reading the rest.
    req.on('response', (res) => {
      file.stream.unpipe(req);
      file.stream.destroy();
      readJson<T>(res).then(resolve, fail);
    });

    let sent = 0;
    req.write(head);
    file.stream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      options.onProgress?.(sent, file.size);
    });
    file.stream.on('error', fail);
    file.stream.on('end', () => req.end(tail));
    file.stream.pipe(req, { end: false });
  });
}

/** Reads a JSON GraphQL body, or fails with NETWORK_ERROR naming the HTTP status. */
async function readJson<T>(res: IncomingMessage): Promise<GraphQLBody<T>> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as GraphQLBody<T>;
  } catch {
    throw new ReelfluxError(
      'NETWORK_ERROR',
      `the server answered ${res.statusCode ?? '?'} with no GraphQL body: ${text.slice(0, 200)}`,
      { ...(res.statusCode === undefined ? {} : { status: res.statusCode }) },
    );
  }
}
