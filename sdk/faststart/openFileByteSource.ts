import { open } from 'node:fs/promises';
import type { ByteSource } from './ByteSource.js';
import { malformed } from './parseBoxHeader.js';

/** A file on disk as a ByteSource, until `close` (Node only: the core stays browser-safe). */
export async function openFileByteSource(
  path: string,
): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    let closed: Promise<void> | undefined;
    return {
      size,
      async read(offset, length) {
        // Not zeroed: it is returned only once every byte of it was read.
        const buffer = Buffer.allocUnsafe(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        // The file shrank under us: what was planned can no longer be sent.
        if (bytesRead !== length) throw malformed(`the file ended at ${offset + bytesRead}`);
        return buffer;
      },
      close: () => (closed ??= handle.close()),
    };
  } catch (error) {
    await handle.close();
    throw error;
  }
}
