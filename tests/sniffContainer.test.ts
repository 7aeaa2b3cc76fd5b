import { describe, expect, it } from 'vitest';
import { sniffContainer } from '../subgraphs/media/sniffContainer.js';

const bytes = (...parts: (string | number[])[]) =>
  Buffer.concat(
    parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))),
  );

describe('sniffContainer', () => {
  it.each([
    ['MP4', bytes([0, 0, 0, 0x20], 'ftypisom', [0, 0, 2, 0]), 'video/mp4'],
    ['MOV', bytes([0, 0, 0, 0x14], 'ftypqt  '), 'video/quicktime'],
    ['3GP', bytes([0, 0, 0, 0x14], 'ftyp3gp4'), 'video/3gpp'],
    ['M4A', bytes([0, 0, 0, 0x14], 'ftypM4A '), 'audio/mp4'],
    ['Matroska', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82], 'matroska'), 'video/x-matroska'],
    ['WebM', bytes([0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x82], 'webm'), 'video/webm'],
    ['AVI', bytes('RIFF', [0, 0, 0, 0], 'AVI LIST'), 'video/x-msvideo'],
    ['WAV', bytes('RIFF', [0, 0, 0, 0], 'WAVEfmt '), 'audio/wav'],
    ['FLV', bytes('FLV', [1, 5]), 'video/x-flv'],
    ['Ogg', bytes('OggS', [0]), 'application/ogg'],
    ['MPEG-PS', bytes([0, 0, 1, 0xba]), 'video/mpeg'],
    [
      'MPEG-TS',
      Buffer.concat(
        [0, 1, 2].map(() =>
          bytes(
            [0x47],
            Array.from({ length: 187 }, () => 0),
          ),
        ),
      ),
      'video/mp2t',
    ],
    ['MP3 with ID3', bytes('ID3', [4, 0]), 'audio/mpeg'],
    ['bare MP3 frame', bytes([0xff, 0xfb, 0x90]), 'audio/mpeg'],
    ['FLAC', bytes('fLaC'), 'audio/flac'],
  ])('recognises %s', (_name, head, contentType) => {
    expect(sniffContainer(head)?.contentType).toBe(contentType);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['text', bytes('Just some notes, renamed to .mp4\n')],
    ['PNG', bytes([0x89], 'PNG\r\n', [0x1a, 0x0a])],
    ['JPEG', bytes([0xff, 0xd8, 0xff, 0xe0])],
    ['ZIP', bytes('PK', [3, 4])],
    ['PDF', bytes('%PDF-1.7')],
    ['HLS playlist', bytes('#EXTM3U\n#EXT-X-VERSION:3\n')],
    ['ffconcat list', bytes('ffconcat version 1.0\nfile /etc/passwd\n')],
    [
      'one TS sync byte only',
      bytes(
        [0x47],
        Array.from({ length: 400 }, () => 1),
      ),
    ],
  ])('refuses %s', (_name, head) => {
    expect(sniffContainer(head)).toBeNull();
  });
});
