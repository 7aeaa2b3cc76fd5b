import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BadInputError } from '../worker/BadInputError.js';
import { probeMedia } from '../worker/probeMedia.js';
import { makeVideo } from './helpers/fixtures.js';

/**
 * The worker's own line of defence, behind media's upload sniffing: even a playlist or concat
 * list that reached the worker is refused by ffprobe (-format_whitelist, -protocol_whitelist)
 * before it opens anything it names. A listener proves no request goes out.
 */
describe('probeMedia with real ffprobe', () => {
  const infra = inject('infra');
  const dir = mkdtempSync(join(tmpdir(), 'reelflux-probe-'));
  let listener: Server;
  let port = 0;
  let connections = 0;

  beforeAll(async () => {
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const address = listener.address();
    port = typeof address === 'object' && address ? address.port : 0;
  });
  afterAll(() => new Promise<void>((resolve) => listener.close(() => resolve())));

  const file = (name: string, content: string | Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('reads a real video: demuxer, duration and audio stream', async () => {
    const probe = await probeMedia(infra.ffprobePath, file('clip', makeVideo(infra.ffmpegPath, 2)));
    expect(probe.demuxer).toBe('mov');
    expect(Math.abs(probe.durationSeconds - 2)).toBeLessThan(0.1);
    expect(probe.audio).toMatchObject({ codec: 'aac' });
  });

  it.each([
    [
      'an HLS playlist naming /etc/passwd',
      () => `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n`,
    ],
    [
      'an HLS playlist naming an http URL',
      () =>
        `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:${port}/segment.ts\n#EXT-X-ENDLIST\n`,
    ],
    ['an ffconcat list naming /etc/passwd', () => 'ffconcat version 1.0\nfile /etc/passwd\n'],
    [
      'an ffconcat list naming an http URL',
      () => `ffconcat version 1.0\nfile http://127.0.0.1:${port}/a.mp4\n`,
    ],
    [
      'an SDP file naming an RTP stream',
      () =>
        `v=0\no=- 0 0 IN IP4 127.0.0.1\ns=x\nc=IN IP4 127.0.0.1\nt=0 0\nm=audio ${port} RTP/AVP 0\n`,
    ],
  ])('refuses %s without opening anything', async (_what, content) => {
    const error = await probeMedia(
      infra.ffprobePath,
      file(`input-${Math.random()}`, content()),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).code).toBe('UNSUPPORTED_MEDIA');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connections).toBe(0);
  });
});
