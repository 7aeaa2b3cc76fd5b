import { describe, expect, it } from 'vitest';
import { ReelfluxError } from '../sdk/ReelfluxError.js';
import {
  createFaststartStream,
  readFaststartPlan,
} from '../sdk/faststart/createFaststartStream.js';
import { faststartBlobParts } from '../sdk/faststart/faststartBlobParts.js';
import {
  box,
  chunkTables,
  co64,
  collect,
  ftyp,
  join,
  largeBox,
  media,
  memorySource,
  sparseSource,
  stco,
  topLevelTypes,
  trak,
  u32,
} from './helpers/mp4Boxes.js';

const GiB = 2 ** 30;
/** The offset of the first mdat's payload in `moovLast` files: ftyp (24) + free (8) + 8. */
const MDAT_DATA = 24 + 8 + 8;

/** ftyp, free, mdat (`payload`), moov with one track per offset list: what ffmpeg writes. */
function moovLast(payload: Uint8Array, tracks: number[][], extra: Uint8Array[] = []) {
  const head = join(ftyp(), box('free'));
  const mdat = box('mdat', payload);
  const moov = box('moov', box('mvhd', new Uint8Array(100)), ...tracks.map((t) => trak(stco(t))));
  return { file: join(head, mdat, moov, ...extra), mdatAt: head.byteLength + 8, moov };
}

async function remux(file: Uint8Array) {
  const stream = await createFaststartStream(memorySource(file), { chunkBytes: 64 });
  const out = await collect(stream.chunks);
  expect(out.byteLength).toBe(stream.size);
  return { out, plan: stream.plan };
}

async function failure(promise: Promise<unknown>): Promise<ReelfluxError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(ReelfluxError);
  return error as ReelfluxError;
}

describe('faststart: moving moov in front of the media data', () => {
  it('puts moov after ftyp and shifts every track’s stco by its size, samples unmoved', async () => {
    const payload = media(300);
    const { file, mdatAt, moov } = moovLast(
      payload,
      [[0, 100], [50, 150, 250], [290]].map((track) => track.map((offset) => MDAT_DATA + offset)),
    );
    const { out } = await remux(file);
    expect(topLevelTypes(out)).toEqual(['ftyp', 'moov', 'free', 'mdat']);
    const before = chunkTables(file);
    const after = chunkTables(out);
    expect(after.map((table) => table.type)).toEqual(['stco', 'stco', 'stco']);
    after.forEach((table, t) =>
      table.offsets.forEach((offset, i) => {
        const old = before[t]?.offsets[i] ?? -1;
        expect(offset).toBe(old + moov.byteLength);
        // The bytes a chunk offset points at are the same bytes as before.
        expect(out.subarray(offset, offset + 10)).toEqual(file.subarray(old, old + 10));
      }),
    );
    expect(mdatAt).toBe(MDAT_DATA);
  });

  it('shifts offsets into a box after moov by the growth of moov only (none here)', async () => {
    const tail = box('mdat', media(40, 7));
    const { file, moov } = moovLast(media(20), [[MDAT_DATA, 0]], [tail]);
    // Point the second chunk into the mdat after moov.
    const tailData = file.byteLength - tail.byteLength + 8;
    const patched = moovLast(media(20), [[MDAT_DATA, tailData]], [tail]).file;
    const { out } = await remux(patched);
    expect(topLevelTypes(out)).toEqual(['ftyp', 'moov', 'free', 'mdat', 'mdat']);
    expect(chunkTables(out)[0]?.offsets).toEqual([MDAT_DATA + moov.byteLength, tailData]);
    expect(out.subarray(tailData, tailData + 40)).toEqual(media(40, 7));
  });

  it('leaves a stco outside moov/trak/mdia/minf/stbl alone', async () => {
    const stray = box('udta', stco([12345]));
    const mdat = box('mdat', media(10));
    const head = ftyp();
    const moov = box('moov', trak(stco([head.byteLength + 8])), stray);
    const { out } = await remux(join(head, mdat, moov));
    const tables = chunkTables(out);
    expect(tables[0]?.offsets).toEqual([head.byteLength + 8 + moov.byteLength]);
    expect(tables[1]?.offsets).toEqual([12345]);
  });

  it('keeps co64 tables as co64, shifted', async () => {
    const head = ftyp();
    const mdat = box('mdat', media(10));
    const moov = box('moov', trak(co64([head.byteLength + 8])));
    const { out } = await remux(join(head, mdat, moov));
    expect(chunkTables(out)).toEqual([
      { type: 'co64', offsets: [head.byteLength + 8 + moov.byteLength] },
    ]);
  });

  it('walks size-1 (largesize) boxes, and keeps the largesize header of a moved moov', async () => {
    const head = ftyp();
    const mdat = largeBox('mdat', media(64));
    const moov = largeBox('moov', trak(stco([head.byteLength + 16])));
    const { out } = await remux(join(head, mdat, moov));
    expect(topLevelTypes(out)).toEqual(['ftyp', 'moov', 'mdat']);
    expect(new DataView(out.buffer).getUint32(head.byteLength)).toBe(1);
    const at = head.byteLength + 16 + moov.byteLength;
    expect(chunkTables(out)[0]?.offsets).toEqual([at]);
    expect(out.subarray(at, at + 64)).toEqual(media(64));
  });

  it('reads the media in bounded pieces: only moov is read whole', async () => {
    const { file, moov } = moovLast(media(5000), [[MDAT_DATA]]);
    const source = memorySource(file);
    const stream = await createFaststartStream(source, { chunkBytes: 256 });
    await collect(stream.chunks);
    expect(Math.max(...source.reads)).toBe(moov.byteLength);
    expect(source.reads.filter((length) => length > 256)).toEqual([moov.byteLength]);
  });

  it('starts at any offset of the result, for a resumed upload', async () => {
    const { file } = moovLast(media(700), [[MDAT_DATA, MDAT_DATA + 300]]);
    const { out } = await remux(file);
    for (let start = 0; start <= out.byteLength; start += 37) {
      const stream = await createFaststartStream(memorySource(file), { chunkBytes: 50, start });
      expect(await collect(stream.chunks)).toEqual(out.subarray(start));
      expect(stream.size).toBe(out.byteLength);
    }
  });

  it('gives a browser the same bytes, as slices of the Blob around the new moov', async () => {
    const { file } = moovLast(media(1000), [[MDAT_DATA, MDAT_DATA + 500]]);
    const parts = await faststartBlobParts(new Blob([file]));
    // ftyp, the new moov, then free and mdat (nothing followed the old moov).
    expect(parts).toHaveLength(3);
    const blob = new Blob(parts ?? []);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual((await remux(file)).out);
    expect(await faststartBlobParts(new Blob([join(ftyp(), box('moov'), box('mdat'))]))).toBe(
      undefined,
    );
  });
});

describe('faststart past 4 GiB (a sparse 5 GiB source)', () => {
  /** ftyp, a largesize mdat filling the file up to moov, then moov: offsets as given. */
  function huge(tracks: number[][], size = 5 * GiB) {
    const head = ftyp();
    const moov = box('moov', ...tracks.map((offsets) => trak(stco(offsets))));
    const mdatSize = size - head.byteLength - moov.byteLength;
    const mdatHeader = join(u32(1), new TextEncoder().encode('mdat'), new Uint8Array(8));
    new DataView(mdatHeader.buffer).setBigUint64(8, BigInt(mdatSize));
    const source = sparseSource(size, [
      [0, head],
      [head.byteLength, mdatHeader],
      [size - moov.byteLength, moov],
    ]);
    return { source, moov };
  }

  it('widens a stco whose shifted offsets pass 2^32 to co64, and only that one', async () => {
    const high = 2 ** 32 - 100;
    const { source, moov } = huge([
      [1000, high],
      [2000, 3000],
    ]);
    const plan = await readFaststartPlan(source);
    if (!plan.remux) throw new Error('expected a remux');
    const newMoov = plan.pieces.find((piece) => piece.from === 'bytes');
    if (newMoov?.from !== 'bytes') throw new Error('no moov');
    // Two offsets grow from 4 to 8 bytes each.
    expect(newMoov.bytes.byteLength).toBe(moov.byteLength + 8);
    expect(plan.size).toBe(5 * GiB + 8);
    const shift = newMoov.bytes.byteLength;
    expect(chunkTables(newMoov.bytes)).toEqual([
      { type: 'co64', offsets: [1000 + shift, high + shift] },
      { type: 'stco', offsets: [2000 + shift, 3000 + shift] },
    ]);
    expect(new DataView(newMoov.bytes.buffer).getUint32(0)).toBe(shift);
  });

  it('widens again when widening one table pushes another past 2^32', async () => {
    // Track 2's offset passes 2^32 only once track 1's widening (4 × 1000 bytes) moves it.
    const many = Array.from({ length: 1000 }, () => 2 ** 32 - 10);
    const { source, moov } = huge([many, [2 ** 32 - moov0(many) - 2000]]);
    const plan = await readFaststartPlan(source);
    if (!plan.remux) throw new Error('expected a remux');
    const newMoov = plan.pieces.find((piece) => piece.from === 'bytes');
    if (newMoov?.from !== 'bytes') throw new Error('no moov');
    expect(chunkTables(newMoov.bytes).map((table) => table.type)).toEqual(['co64', 'co64']);
    expect(newMoov.bytes.byteLength).toBe(moov.byteLength + 4004);
    expect(chunkTables(newMoov.bytes)[1]?.offsets).toEqual([
      2 ** 32 - moov0(many) - 2000 + newMoov.bytes.byteLength,
    ]);
  });

  it('streams the 5 GiB plan with its exact length known first', async () => {
    const { source } = huge([[1000]], 4 * GiB + 1000);
    const stream = await createFaststartStream(source, { chunkBytes: 64 * 1024 * 1024 });
    let total = 0;
    for await (const chunk of stream.chunks) total += chunk.byteLength;
    expect(total).toBe(stream.size);
  });
});

/** The size of the moov `huge` makes for these two tracks (the second of one entry). */
function moov0(first: number[]): number {
  return box('moov', trak(stco(first)), trak(stco([0]))).byteLength;
}

describe('faststart leaves other files as they are', () => {
  const cases: [string, Uint8Array, string][] = [
    [
      'moov already first',
      join(ftyp(), box('moov', trak(stco([40]))), box('mdat', media(9))),
      'moov-first',
    ],
    ['fragmented (moof)', join(ftyp(), box('moof'), box('mdat', media(9))), 'fragmented'],
    [
      'fragmented (moov with mvex, after mdat)',
      join(ftyp(), box('mdat', media(9)), box('moov', box('mvex'), trak(stco([32])))),
      'fragmented',
    ],
    ['without moov', join(ftyp(), box('mdat', media(9))), 'no-moov'],
    [
      'Matroska',
      Uint8Array.from([0x1a, 0x45, 0xdf, 0xa3, 0x93, 0x42, 0x82, 0x88, 1, 2]),
      'not-mp4',
    ],
    ['an MP3 with ID3', join(new TextEncoder().encode('ID3'), media(100)), 'not-mp4'],
    ['empty', new Uint8Array(0), 'not-mp4'],
  ];
  it.each(cases)('%s: the same bytes', async (_name, file, reason) => {
    const { out, plan } = await remux(file);
    expect(plan).toMatchObject({ remux: false, reason, size: file.byteLength });
    expect(out).toEqual(file);
  });
});

describe('faststart refuses what it cannot read, with a code', () => {
  it('MALFORMED_MP4 for a truncated file (mdat runs past the end)', async () => {
    const { file } = moovLast(media(300), [[MDAT_DATA]]);
    const error = await failure(createFaststartStream(memorySource(file.subarray(0, 200))));
    expect(error.code).toBe('MALFORMED_MP4');
    expect(error.message).toMatch(/'mdat' box at 32 .* runs past its end at 200/);
  });

  it('MALFORMED_MP4 for a stco that holds fewer entries than it says', async () => {
    const lying = box('stco', u32(0), u32(1000), u32(40));
    const file = join(ftyp(), box('mdat', media(8)), box('moov', trak(lying)));
    const error = await failure(createFaststartStream(memorySource(file)));
    expect(error.code).toBe('MALFORMED_MP4');
  });

  it('MALFORMED_MP4 for a child box that runs past moov', async () => {
    const broken = join(
      u32(8 + 16),
      new TextEncoder().encode('moov'),
      u32(4000),
      new TextEncoder().encode('trak'),
      u32(0),
      u32(0),
    );
    const file = join(ftyp(), box('mdat', media(8)), broken);
    expect((await failure(createFaststartStream(memorySource(file)))).code).toBe('MALFORMED_MP4');
  });

  it('MALFORMED_MP4 for a chunk offset that points into moov itself', async () => {
    const head = join(ftyp(), box('mdat', media(8)));
    const file = join(head, box('moov', trak(stco([head.byteLength + 4]))));
    const error = await failure(createFaststartStream(memorySource(file)));
    expect(error.code).toBe('MALFORMED_MP4');
    expect(error.message).toContain('points into moov');
  });

  it('MOOV_TOO_LARGE past the bound, before reading it', async () => {
    const { file } = moovLast(media(10), [Array.from({ length: 100 }, () => MDAT_DATA)]);
    const source = memorySource(file);
    const error = await failure(createFaststartStream(source, { maxMoovBytes: 256 }));
    expect(error.code).toBe('MOOV_TOO_LARGE');
    expect(Math.max(...source.reads)).toBeLessThanOrEqual(16);
  });
});
