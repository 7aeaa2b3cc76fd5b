import type { ByteSource } from '../../sdk/faststart/ByteSource.js';

/** Synthetic ISO BMFF boxes for the faststart tests: no ffmpeg, any offsets. */
export function box(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 8 + payload.reduce((total, part) => total + part.byteLength, 0);
  return join(u32(size), ascii(type), ...payload);
}

/** A box with a 64-bit largesize header (size field 1), as cameras write a large mdat. */
export function largeBox(type: string, ...payload: Uint8Array[]): Uint8Array {
  const size = 16 + payload.reduce((total, part) => total + part.byteLength, 0);
  return join(u32(1), ascii(type), u64(size), ...payload);
}

export function stco(offsets: readonly number[]): Uint8Array {
  return box('stco', u32(0), u32(offsets.length), ...offsets.map(u32));
}

export function co64(offsets: readonly number[]): Uint8Array {
  return box('co64', u32(0), u32(offsets.length), ...offsets.map(u64));
}

/** A track whose sample table holds `table` (its stco or co64) beside a dummy stsz. */
export function trak(table: Uint8Array): Uint8Array {
  const stbl = box('stbl', box('stsz', u32(0), u32(0), u32(0)), table);
  return box('trak', box('tkhd', new Uint8Array(84)), box('mdia', box('minf', stbl)));
}

export const ftyp = (): Uint8Array => box('ftyp', ascii('isom'), u32(512), ascii('isomavc1'));

/** A payload of `length` bytes whose every byte tells where it is (mod 251). */
export function media(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (i + seed) % 251);
}

export function join(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (char) => char.charCodeAt(0));
}

export function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

export function u64(value: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(value));
  return out;
}

/** A ByteSource over bytes in memory, recording the length of every read. */
export function memorySource(bytes: Uint8Array): ByteSource & { reads: number[] } {
  const reads: number[] = [];
  return {
    size: bytes.byteLength,
    reads,
    read: async (offset, length) => {
      reads.push(length);
      return bytes.slice(offset, offset + length);
    },
  };
}

/**
 * A file of `size` bytes that exists only where `pieces` put bytes (zeros elsewhere): a 5 GiB
 * MP4 without 5 GiB anywhere.
 */
export function sparseSource(
  size: number,
  pieces: [offset: number, bytes: Uint8Array][],
): ByteSource {
  return {
    size,
    read: async (offset, length) => {
      const out = new Uint8Array(length);
      for (const [at, bytes] of pieces) {
        const from = Math.max(at, offset);
        const to = Math.min(at + bytes.byteLength, offset + length);
        if (from < to) out.set(bytes.subarray(from - at, to - at), from - offset);
      }
      return out;
    },
  };
}

/** The offsets in every stco/co64 of `bytes` (a whole file or a moov), in order, with the type. */
export function chunkTables(bytes: Uint8Array): { type: string; offsets: number[] }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('latin1').decode(bytes);
  const tables: { type: string; offsets: number[] }[] = [];
  for (const match of text.matchAll(/stco|co64/g)) {
    const at = match.index - 4;
    const wide = match[0] === 'co64';
    const count = view.getUint32(at + 12);
    const offsets = Array.from({ length: count }, (_, i) =>
      wide ? Number(view.getBigUint64(at + 16 + i * 8)) : view.getUint32(at + 16 + i * 4),
    );
    tables.push({ type: match[0], offsets });
  }
  return tables;
}

/** The top-level boxes' types and sizes, as `ffprobe -v trace` would list them. */
export function topLevelTypes(bytes: Uint8Array): string[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const types: string[] = [];
  for (let at = 0; at + 8 <= bytes.byteLength;) {
    let size = view.getUint32(at);
    if (size === 1) size = Number(view.getBigUint64(at + 8));
    if (size === 0) size = bytes.byteLength - at;
    types.push(new TextDecoder('latin1').decode(bytes.subarray(at + 4, at + 8)));
    at += size;
  }
  return types;
}

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of chunks) parts.push(chunk);
  return join(...parts);
}
