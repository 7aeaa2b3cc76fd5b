import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ReelfluxError } from '../sdk/ReelfluxError.js';
import { sendResumable } from '../sdk/transport/sendResumable.js';

/**
 * A tus server in memory, enough for the client: creation, HEAD, PATCH. `dropAt` cuts the
 * connection of the first PATCH once that many bytes are in (what it received is kept).
 */
function fakeTus(
  options: { dropAt?: number; lockFirstPatch?: boolean; have?: Buffer; location?: string } = {},
) {
  const received: Buffer[] = options.have ? [options.have] : [];
  let length = options.have?.length ?? 0;
  let dropped = false;
  let locked = false;
  const log: string[] = [];
  const server = createServer((req, res) => {
    log.push(`${req.method} ${String(req.headers['upload-offset'] ?? '')}`);
    res.setHeader('tus-resumable', '1.0.0');
    if (req.method === 'POST') {
      length = Number(req.headers['upload-length']);
      res
        .writeHead(201, { location: options.location ?? '/uploads/0123456789abcdef01234567' })
        .end();
      return;
    }
    const offset = () => Buffer.concat(received).length;
    if (req.method === 'HEAD') {
      res.writeHead(200, { 'upload-offset': String(offset()), 'upload-length': String(length) });
      res.end();
      return;
    }
    if (options.lockFirstPatch && !locked) {
      locked = true;
      res
        .writeHead(423)
        .end('{"errors":[{"message":"locked","extensions":{"code":"UPLOAD_LOCKED"}}]}');
      return;
    }
    if (Number(req.headers['upload-offset']) !== offset()) {
      res.writeHead(409).end();
      return;
    }
    req.on('data', (piece: Buffer) => {
      if (dropped || options.dropAt === undefined) return void received.push(piece);
      const room = options.dropAt - offset();
      if (piece.length >= room) {
        received.push(piece.subarray(0, Math.max(0, room)));
        dropped = true;
        req.socket.destroy();
      } else received.push(piece);
    });
    req.on('end', () => res.writeHead(204, { 'upload-offset': String(offset()) }).end());
  });
  return { server, received: () => Buffer.concat(received), log };
}

describe('sendResumable (the SDK tus client)', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

  const file = () => {
    const bytes = randomBytes(3 * 2 ** 20);
    const path = join(mkdtempSync(join(tmpdir(), 'reelflux-sdk-')), 'clip.mp4');
    writeFileSync(path, bytes);
    return { bytes, path };
  };
  const listen = async (fake: ReturnType<typeof fakeTus>) => {
    server = fake.server;
    await new Promise<void>((done) => fake.server.listen(0, '127.0.0.1', done));
    const address = fake.server.address();
    return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  };

  it('resumes by itself after the connection drops at 40 %, sending each byte kept once', async () => {
    const { bytes, path } = file();
    const fake = fakeTus({ dropAt: Math.floor(bytes.length * 0.4) });
    const url = await listen(fake);
    const created: string[] = [];
    const uploadUrl = await sendResumable({
      url,
      token: 't',
      path,
      size: bytes.length,
      filename: 'clip.mp4',
      onCreated: (at) => void created.push(at),
      retryDelaysMs: [10],
    });
    expect(uploadUrl).toBe(`${url}/uploads/0123456789abcdef01234567`);
    expect(created).toEqual([uploadUrl]);
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(sha(fake.received())).toBe(sha(bytes));
    // Created, asked, sent, cut; asked again, sent the rest from where the server stood.
    expect(fake.log[0]).toBe('POST ');
    const patches = fake.log.filter((line) => line.startsWith('PATCH'));
    expect(patches).toEqual(['PATCH 0', `PATCH ${Math.floor(bytes.length * 0.4)}`]);
  });

  it('waits and tries again when the upload is locked by another request', async () => {
    const { bytes, path } = file();
    const fake = fakeTus({ lockFirstPatch: true });
    const url = await listen(fake);
    await sendResumable({
      url,
      token: 't',
      path,
      size: bytes.length,
      filename: 'a.mp4',
      retryDelaysMs: [10],
    });
    expect(fake.received().equals(bytes)).toBe(true);
  });

  it('resumes an upload given by URL without creating one', async () => {
    const { bytes, path } = file();
    const fake = fakeTus();
    const url = await listen(fake);
    await sendResumable({
      url,
      token: 't',
      path,
      size: bytes.length,
      filename: 'a.mp4',
      resumeUrl: `${url}/uploads/0123456789abcdef01234567`,
    }).catch((error: unknown) => error);
    expect(fake.log[0]).toBe('HEAD ');
  });

  it('finishes with an empty PATCH an upload the server has whole (it may not have made it a video)', async () => {
    const { bytes, path } = file();
    const fake = fakeTus({ have: bytes });
    const url = await listen(fake);
    await sendResumable({
      url,
      token: 't',
      path,
      size: bytes.length,
      filename: 'a.mp4',
      resumeUrl: `${url}/uploads/0123456789abcdef01234567`,
    });
    expect(fake.log).toEqual(['HEAD ', `PATCH ${bytes.length}`]);
    expect(fake.received().equals(bytes)).toBe(true);
  });

  it('refuses an upload URL on another origin, which would get the token', async () => {
    const { bytes, path } = file();
    const fake = fakeTus({ location: 'http://198.18.0.99:1/uploads/x' });
    const url = await listen(fake);
    const error = await sendResumable({
      url,
      token: 't',
      path,
      size: bytes.length,
      filename: 'a.mp4',
    }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'BAD_REQUEST' });
    expect(fake.log).toEqual(['POST ']);
  });

  it('gives up with NETWORK_ERROR when the server cannot be reached', async () => {
    const { bytes, path } = file();
    const error = await sendResumable({
      url: 'http://127.0.0.1:9',
      token: 't',
      path,
      size: bytes.length,
      filename: 'a.mp4',
      retryDelaysMs: [1, 1],
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ReelfluxError);
    expect((error as ReelfluxError).code).toBe('NETWORK_ERROR');
  });
});
