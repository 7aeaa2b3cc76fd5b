import type { ByteSource } from './ByteSource.js';
import type { FaststartPiece } from './planFaststart.js';

/** How much of the source is read at once: memory stays this, whatever the file's size. */
export const DEFAULT_CHUNK_BYTES = 512 * 1024;

/** The bytes the pieces stand for, in order, reading `source` `chunkBytes` at a time. */
export async function* writeFaststart(
  source: ByteSource,
  pieces: readonly FaststartPiece[],
  chunkBytes = DEFAULT_CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) {
    if (piece.from === 'bytes') {
      yield piece.bytes;
      continue;
    }
    const end = piece.offset + piece.length;
    for (let at = piece.offset; at < end; at += chunkBytes) {
      yield await source.read(at, Math.min(chunkBytes, end - at));
    }
  }
}
