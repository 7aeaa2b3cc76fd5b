import { blobByteSource, type BlobLike } from './blobByteSource.js';
import { readFaststartPlan } from './createFaststartStream.js';

/**
 * A browser's faststart: the parts of the remuxed file (slices of `blob` around the new moov)
 * to build a new Blob or File from, or undefined when `blob` is sent as it is. The slices
 * only point into the file, so the browser still reads it from disk as it sends it.
 */
export async function faststartBlobParts<TSlice extends { arrayBuffer(): Promise<ArrayBuffer> }>(
  blob: BlobLike<TSlice>,
  maxMoovBytes?: number,
): Promise<(TSlice | Uint8Array<ArrayBuffer>)[] | undefined> {
  const plan = await readFaststartPlan(blobByteSource(blob), maxMoovBytes);
  if (!plan.remux) return undefined;
  return plan.pieces.map((piece) =>
    piece.from === 'bytes'
      ? new Uint8Array(piece.bytes)
      : blob.slice(piece.offset, piece.offset + piece.length),
  );
}
