import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { bearer } from './postGraphQL.js';
import { graphqlMultipart } from '../../lib/contracts/graphqlMultipart.js';
import { operationOf, type MultipartRequest } from './MultipartRequest.js';
import { readGraphQLAnswer, transferFailure } from './readGraphQLAnswer.js';

export interface MultipartFile {
  stream: Readable;
  filename: string;
  contentType: string;
  /** Known for files on disk; lets the request carry Content-Length and progress a total. */
  size: number | undefined;
}

/**
 * One GraphQL multipart request from Node (operations, map, then the file) streamed as it is
 * read, never held whole; resolves with `data` or rejects with a ReelfluxError.
 */
export function sendMultipart<TResult, TVariables>(
  request: MultipartRequest<TResult, TVariables>,
  file: MultipartFile,
): Promise<TResult> {
  const framing = graphqlMultipart({
    operation: operationOf(request),
    fileVariable: request.fileVariable ?? 'file',
    filename: file.filename,
    fileType: file.contentType,
  });
  const head = Buffer.from(framing.head);
  const tail = Buffer.from(framing.tail);

  const url = new URL(request.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: {
        ...bearer(request.token),
        'content-type': framing.contentType,
        'apollo-require-preflight': 'true',
        ...(file.size === undefined
          ? {}
          : { 'content-length': String(head.length + file.size + tail.length) }),
      },
      ...(request.signal ? { signal: request.signal } : {}),
    });
    const fail = (error: unknown) => {
      file.stream.destroy();
      reject(transferFailure('upload', error, request.signal));
    };
    req.on('error', fail);
    // The server may answer early (too large, unauthenticated) without reading the rest.
    req.on('response', (res) => {
      file.stream.unpipe(req);
      file.stream.destroy();
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        try {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve(readGraphQLAnswer<TResult>(request.url, res.statusCode ?? 0, text));
        } catch (error) {
          fail(error);
        }
      });
    });

    let sent = 0;
    req.write(head);
    file.stream.on('data', (chunk: Buffer) => {
      sent += chunk.length;
      request.onProgress?.(sent, file.size);
    });
    file.stream.on('error', fail);
    file.stream.on('end', () => req.end(tail));
    file.stream.pipe(req, { end: false });
  });
}
