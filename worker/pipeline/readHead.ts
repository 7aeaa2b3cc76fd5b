import type { Readable } from 'node:stream';
import { MAX_HEAD_BYTES, readStreamability, type Streamability } from '../readStreamability.js';

/**
 * Reads the first bytes of the upload until they say whether it can be converted as a stream.
 * They are read again with the rest: the head is at most MAX_HEAD_BYTES and usually one chunk.
 */
export async function readHead(
  upload: Readable,
  onPiece: () => void,
): Promise<{ streamability: Streamability; head: Buffer }> {
  let head = Buffer.alloc(0);
  for await (const piece of upload) {
    onPiece();
    head = Buffer.concat([head, piece as Buffer]);
    const streamability = readStreamability(head, false);
    if (streamability.kind !== 'more') return { streamability, head };
    if (head.length > MAX_HEAD_BYTES) {
      return { streamability: { kind: 'stored', reason: 'no index in 16 MiB' }, head };
    }
  }
  return { streamability: readStreamability(head, true), head };
}
