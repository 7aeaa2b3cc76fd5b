import type { ByteSource } from './ByteSource.js';
import { MAX_BOX_HEADER, parseBoxHeader, type BoxHeader } from './parseBoxHeader.js';

/** Box types an MP4/MOV may start with; anything else is not taken for one. */
const FIRST_BOX_TYPES = new Set([
  'ftyp',
  'styp',
  'moov',
  'mdat',
  'free',
  'skip',
  'wide',
  'pnot',
  'pdin',
  'uuid',
  'sidx',
]);

/**
 * The top-level boxes of `source`, read header by header (16 bytes each, never the payload),
 * up to and including the first `moov` or `moof`: what follows cannot change whether and how
 * the file is remuxed. An empty list means the file is not an MP4/MOV (its first bytes are no
 * box we know). A later box that runs past the end is MALFORMED_MP4 (a truncated file).
 */
export async function readTopLevelBoxes(source: ByteSource): Promise<BoxHeader[]> {
  const boxes: BoxHeader[] = [];
  let offset = 0;
  while (offset < source.size) {
    const head = await source.read(offset, Math.min(MAX_BOX_HEADER, source.size - offset));
    if (boxes.length === 0 && !looksLikeFirstBox(head, source.size)) return [];
    const box = parseBoxHeader(head, 0, offset, source.size);
    boxes.push(box);
    if (box.type === 'moov' || box.type === 'moof') break;
    offset += box.size;
  }
  return boxes;
}

function looksLikeFirstBox(head: Uint8Array, fileSize: number): boolean {
  if (head.byteLength < 8) return false;
  const type = String.fromCharCode(...head.subarray(4, 8));
  if (!FIRST_BOX_TYPES.has(type)) return false;
  try {
    parseBoxHeader(head, 0, 0, fileSize);
    return true;
  } catch {
    return false;
  }
}
