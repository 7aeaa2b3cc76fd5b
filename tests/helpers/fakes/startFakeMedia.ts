import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInternalHop } from '../../../lib/server/createInternalHop.js';

/** One request media received, as far as it got. */
export interface ReceivedUpload {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The whole request arrived. */
  ended: boolean;
  /** The connection went away before the request ended. */
  cutOff: boolean;
  /** Its signature verifies as media verifies a streamed upload's. */
  signed: boolean;
}

export interface FakeMediaOptions {
  secret: Uint8Array;
  /** Answers once the request has ended; by default `{ data: { uploadVideo: { id } } }`. */
  answer?: (received: ReceivedUpload, res: ServerResponse) => void;
  /** Answers this (with `answer`) as soon as so many body bytes have arrived. */
  answerAfterBytes?: number;
  /** Drops the connection, without an answer, once so many body bytes have arrived. */
  dropAfterBytes?: number;
}

/**
 * Media's GraphQL endpoint as the router's upload passthrough meets it, on 127.0.0.1: it
 * records each request's head and bytes as they stream in, and checks the router's signature.
 */
export async function startFakeMedia(options: FakeMediaOptions) {
  const hop = createInternalHop(options.secret);
  const received: ReceivedUpload[] = [];
  const answer =
    options.answer ??
    ((_: ReceivedUpload, res: ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { uploadVideo: { id: 'v1' } } }));
    });
  const server = createServer((req, res) => {
    const upload: ReceivedUpload = {
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.alloc(0),
      ended: false,
      cutOff: false,
      signed: hop.verify(req, { streamedUpload: req.headers['content-type'] ?? '' }),
    };
    received.push(upload);
    let answered = false;
    req.on('data', (chunk: Buffer) => {
      upload.body = Buffer.concat([upload.body, chunk]);
      if (options.dropAfterBytes !== undefined && upload.body.length >= options.dropAfterBytes) {
        req.socket.destroy();
      } else if (
        !answered &&
        options.answerAfterBytes !== undefined &&
        upload.body.length >= options.answerAfterBytes
      ) {
        answered = true;
        answer(upload, res);
      }
    });
    req.on('end', () => {
      upload.ended = true;
      if (!answered) answer(upload, res);
    });
    // The socket, not the request: a request answered early emits no 'close' of its own.
    req.socket.once('close', () => {
      if (!upload.ended) upload.cutOff = true;
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    received,
    /** Whether a signature covers exactly these facts of the request it came with. */
    verify: (request: Pick<ReceivedUpload, 'method' | 'url' | 'headers'>) =>
      hop.verify(request as IncomingMessage, {
        streamedUpload: String(request.headers['content-type']),
      }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
