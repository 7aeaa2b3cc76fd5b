import { parseBoxHeader, type BoxHeader } from './parseBoxHeader.js';

/**
 * The boxes inside the container `box`, whose bytes are `bytes` (offsets index into them).
 * Fewer than 8 bytes left at the end (QuickTime's 4-byte terminator) are no box: the caller
 * keeps them as they are.
 */
export function childBoxes(bytes: Uint8Array, box: BoxHeader): BoxHeader[] {
  const end = box.offset + box.size;
  const children: BoxHeader[] = [];
  let at = box.offset + box.headerSize;
  while (end - at >= 8) {
    const child = parseBoxHeader(bytes, at, at, end);
    children.push(child);
    at += child.size;
  }
  return children;
}
