import { describe, expect, it } from 'vitest';
import { MAX_HEAD_BYTES, readStreamability } from '../worker/readStreamability.js';

/** An ISO BMFF box: 32-bit size, type, body. */
const box = (type: string, bodyBytes: number) => {
  const out = Buffer.alloc(8 + bodyBytes);
  out.writeUInt32BE(8 + bodyBytes, 0);
  out.write(type, 4, 'latin1');
  return out;
};
/** A box with a 64-bit size (size field 1), as large mdat boxes have. */
const largeBox = (type: string, size: number) => {
  const out = Buffer.alloc(16);
  out.writeUInt32BE(1, 0);
  out.write(type, 4, 'latin1');
  out.writeBigUInt64BE(BigInt(size), 8);
  return out;
};
const ftyp = box('ftyp', 24);

describe('readStreamability', () => {
  it('streams an MP4 whose index comes first, probing up to the end of moov', () => {
    const head = Buffer.concat([ftyp, box('moov', 5000), box('free', 0), box('mdat', 100)]);
    expect(readStreamability(head, false)).toEqual({ kind: 'stream', headBytes: 32 + 5008 });
  });

  it('waits for the rest of an index that has not fully arrived', () => {
    const head = Buffer.concat([ftyp, box('moov', 5000)]).subarray(0, 2000);
    expect(readStreamability(head, false)).toEqual({ kind: 'more' });
    expect(readStreamability(head, true)).toMatchObject({ kind: 'stored' });
  });

  it('uses the stored file for an MP4 with its index last', () => {
    for (const mdat of [box('mdat', 100), largeBox('mdat', 2 ** 33)]) {
      const head = Buffer.concat([ftyp, box('free', 8), mdat]);
      expect(readStreamability(head, false)).toEqual({
        kind: 'stored',
        reason: 'MP4 index (moov) after the media data',
      });
    }
  });

  it('waits on a box header cut in two, and gives up on an index past 16 MiB', () => {
    expect(readStreamability(Buffer.concat([ftyp, Buffer.alloc(4)]), false)).toEqual({
      kind: 'more',
    });
    const huge = Buffer.alloc(8);
    huge.writeUInt32BE(MAX_HEAD_BYTES + 1, 0);
    huge.write('moov', 4, 'latin1');
    expect(readStreamability(Buffer.concat([ftyp, huge]), false)).toMatchObject({
      kind: 'stored',
    });
  });

  it('reads 64-bit box sizes, and a last box that runs to the end of the file', () => {
    const moov = largeBox('moov', 16 + 100);
    const head = Buffer.concat([ftyp, moov, Buffer.alloc(100), box('mdat', 10)]);
    expect(readStreamability(head, false)).toEqual({ kind: 'stream', headBytes: 32 + 116 });
    // A 64-bit header cut at the end of the head: wait for the rest.
    expect(readStreamability(Buffer.concat([ftyp, moov.subarray(0, 12)]), false)).toEqual({
      kind: 'more',
    });
    const toEnd = Buffer.alloc(8);
    toEnd.write('moov', 4, 'latin1');
    const whole = Buffer.concat([ftyp, toEnd, Buffer.alloc(50)]);
    expect(readStreamability(whole, false)).toEqual({ kind: 'more' });
    expect(readStreamability(whole, true)).toEqual({ kind: 'stream', headBytes: whole.length });
  });

  it('refuses malformed box sizes instead of looping on them', () => {
    // A 64-bit size smaller than its own 16-byte header.
    expect(readStreamability(Buffer.concat([ftyp, largeBox('free', 12)]), false)).toEqual({
      kind: 'stored',
      reason: 'malformed MP4 box',
    });
    const bad = Buffer.alloc(8);
    bad.writeUInt32BE(4, 0);
    bad.write('free', 4, 'latin1');
    expect(readStreamability(Buffer.concat([ftyp, bad]), false)).toEqual({
      kind: 'stored',
      reason: 'malformed MP4 box',
    });
  });

  it('streams Matroska and WebM once 1 MiB (or the whole file) is in', () => {
    const ebml = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
    const small = Buffer.concat([ebml, Buffer.alloc(1000)]);
    expect(readStreamability(small, false)).toEqual({ kind: 'more' });
    expect(readStreamability(small, true)).toEqual({ kind: 'stream', headBytes: 1004 });
    const big = Buffer.concat([ebml, Buffer.alloc(2 ** 20)]);
    expect(readStreamability(big, false)).toEqual({ kind: 'stream', headBytes: 2 ** 20 });
  });

  it('converts other containers from the stored file', () => {
    const ts = Buffer.alloc(400, 0x47);
    expect(readStreamability(ts, false)).toEqual({
      kind: 'stored',
      reason: 'this container is read from the stored file',
    });
    expect(readStreamability(Buffer.alloc(3), false)).toEqual({ kind: 'more' });
  });
});
