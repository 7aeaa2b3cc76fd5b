import type { ByteSource } from './ByteSource.js';

/**
 * What is used of a Blob (or File), declared here: the SDK compiles without the DOM's types.
 * `slice` must answer the same kind, so the remuxed file can be put together from slices.
 */
export interface BlobLike<TSlice> {
  readonly size: number;
  slice(start: number, end: number): TSlice;
}

type ReadableBlob = BlobLike<{ arrayBuffer(): Promise<ArrayBuffer> }>;

/** A browser Blob or File as a ByteSource: each read is one slice, read into memory alone. */
export function blobByteSource(blob: ReadableBlob): ByteSource {
  return {
    size: blob.size,
    read: async (offset, length) =>
      new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()),
  };
}
