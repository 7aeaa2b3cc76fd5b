import type { ByteSource } from './ByteSource.js';
import type { FaststartPiece } from './planFaststart.js';

/** How much of the source is read at once: memory stays this, whatever the file's size. */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;

/**
 * The bytes the pieces stand for, in order, reading `source` `chunkBytes` at a time, from
 * byte `start` of the result on (a resumed upload sends only what the server lacks).
 */
export async function* writeFaststart(
  source: ByteSource,
  pieces: readonly FaststartPiece[],
  chunkBytes = DEFAULT_CHUNK_BYTES,
  start = 0,
): AsyncGenerator<Uint8Array> {
  let skip = start;
  for (const piece of pieces) {
    const length = piece.from === 'bytes' ? piece.bytes.byteLength : piece.length;
    if (skip >= length) {
      skip -= length;
      continue;
    }
    if (piece.from === 'bytes') yield piece.bytes.subarray(skip);
    else yield* readRange(source, piece.offset + skip, piece.offset + length, chunkBytes);
    skip = 0;
  }
}

async function* readRange(source: ByteSource, from: number, end: number, chunkBytes: number) {
  for (let at = from; at < end; at += chunkBytes) {
    yield await source.read(at, Math.min(chunkBytes, end - at));
  }
}
