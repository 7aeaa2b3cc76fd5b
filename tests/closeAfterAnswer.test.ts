import { createServer, request, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { closeAfterAnswer } from '../lib/server/http.js';

/**
 * A server that refuses every request after its first body chunk, as media refuses an upload
 * with bad options, and a client that keeps streaming a body: real sockets on loopback.
 */
function refusingServer(): Promise<{ server: Server; port: number; closed: Promise<number> }> {
  let answeredAt = 0;
  let onClosed: (ms: number) => void = () => undefined;
  const closed = new Promise<number>((resolve) => (onClosed = resolve));
  const server = createServer((req, res) => {
    req.once('data', () => {
      req.pause();
      answeredAt = performance.now();
      req.socket.once('close', () => onClosed(performance.now() - answeredAt));
      closeAfterAnswer(req, res);
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"refused":true}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, port: (server.address() as AddressInfo).port, closed }),
    ),
  );
}

/** Streams 64 KiB chunks every few ms until told to stop; resolves with the answer. */
function streamingClient(port: number, options: { stopOnAnswer: boolean }) {
  const req = request({ port, host: '127.0.0.1', method: 'POST' });
  let socket: Socket | undefined;
  req.on('socket', (s) => (socket = s));
  const chunk = Buffer.alloc(64 * 1024, 7);
  const timer = setInterval(() => req.write(chunk), 2);
  const answer = new Promise<{ status: number; connection: string; body: string }>(
    (resolve, reject) => {
      req.on('error', reject);
      req.on('response', (res) => {
        if (options.stopOnAnswer) clearInterval(timer);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (text: string) => (body += text));
        res.on('end', () => {
          if (options.stopOnAnswer) socket?.destroy();
          resolve({ status: res.statusCode ?? 0, connection: res.headers.connection ?? '', body });
        });
      });
    },
  );
  return { answer, stop: () => clearInterval(timer) };
}

describe('closeAfterAnswer', () => {
  let server: Server | undefined;
  afterEach(() => {
    server?.closeAllConnections();
    server?.close();
  });

  it('delivers the answer to a client that never stops sending, then closes after the linger time', async () => {
    const refusing = await refusingServer();
    server = refusing.server;
    // A raw socket that stays half-open: Node's own client would close on the server's FIN;
    // this one reads the answer and keeps writing.
    const socket = connect({ port: refusing.port, host: '127.0.0.1', allowHalfOpen: true });
    socket.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n');
    const chunk = Buffer.alloc(64 * 1024, 7);
    const timer = setInterval(() => socket.writable && socket.write(chunk), 2);
    socket.on('error', () => undefined); // the final reset, once the server gives up
    let received = '';
    socket.on('data', (data: Buffer) => (received += data.toString('latin1')));
    const lingeredMs = await refusing.closed;
    clearInterval(timer);
    socket.destroy();
    expect(received).toMatch(/^HTTP\/1\.1 400 .*\r\nconnection: close\r\n.*\{"refused":true\}/s);
    expect(lingeredMs).toBeGreaterThan(1_500);
    expect(lingeredMs).toBeLessThan(4_000);
  });

  it('closes as soon as a client that has its answer goes away', async () => {
    const refusing = await refusingServer();
    server = refusing.server;
    const answer = await streamingClient(refusing.port, { stopOnAnswer: true }).answer;
    expect(answer.status).toBe(400);
    expect(await refusing.closed).toBeLessThan(1_000);
  });
});
