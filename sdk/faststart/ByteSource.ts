/**
 * Random access to the bytes of a file, whatever holds it: a Node file handle
 * (`openFileByteSource`) or a browser Blob (`blobByteSource`). The faststart remuxer reads
 * through this only, so it never needs the whole file in memory.
 */
export interface ByteSource {
  readonly size: number;
  /** Exactly `length` bytes from `offset` (the caller stays within `size`). */
  read(offset: number, length: number): Promise<Uint8Array>;
}
