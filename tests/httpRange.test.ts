import { describe, expect, it } from 'vitest';
import { mp3Name } from '../lib/contracts/filenameParameters.js';
import { contentDisposition, parseRange } from '../subgraphs/media/httpRange.js';
import { cleanFilename } from '../subgraphs/media/cleanFilename.js';

describe('parseRange', () => {
  it.each([
    ['bytes=0-0', 1000, { start: 0, end: 0 }],
    ['bytes=0-', 1000, { start: 0, end: 999 }],
    ['bytes=100-199', 1000, { start: 100, end: 199 }],
    ['bytes=900-5000', 1000, { start: 900, end: 999 }],
    ['bytes=-100', 1000, { start: 900, end: 999 }],
    ['bytes=-5000', 1000, { start: 0, end: 999 }],
    ['bytes=1000-', 1000, 'unsatisfiable'],
    ['bytes=-0', 1000, 'unsatisfiable'],
    ['bytes=0-', 0, 'unsatisfiable'],
    ['bytes=5-1', 1000, undefined],
    ['bytes=0-1,5-6', 1000, undefined],
    ['items=0-1', 1000, undefined],
    [undefined, 1000, undefined],
  ])('%s of %i bytes → %o', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});

describe('download names', () => {
  it('gives an ASCII fallback and the exact name in filename*', () => {
    expect(contentDisposition('plain.mp3')).toBe(
      `attachment; filename="plain.mp3"; filename*=UTF-8''plain.mp3`,
    );
    expect(contentDisposition('Ünï "q" (1).mp3')).toBe(
      `attachment; filename="_n_ _q_ (1).mp3"; filename*=UTF-8''%C3%9Cn%C3%AF%20%22q%22%20%281%29.mp3`,
    );
  });
  it('names the MP3 after the video', () => {
    expect(mp3Name('movie.final.mov')).toBe('movie.final.mp3');
    expect(mp3Name('.hidden')).toBe('.hidden.mp3');
    expect(mp3Name('noext')).toBe('noext.mp3');
  });
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['C:\\Users\\me\\clip.mp4', 'clip.mp4'],
    ['evil\r\nSet-Cookie: x.mp4', 'evilSet-Cookie: x.mp4'],
    ['a\u0000b.mp4', 'ab.mp4'],
    // Bidi formatting would display this as "evilmp4.png".
    ['evil\u202Egnp.mp4', 'evilgnp.mp4'],
    ['\u2067x\u2069\u200F\u061C.mp4', 'x.mp4'],
    ['', 'video'],
    ['..', 'video'],
    ['é'.repeat(300), 'é'.repeat(255)],
  ])('cleans %j to %j', (input, expected) => {
    expect(cleanFilename(input)).toBe(expected);
  });
});
