import { childBoxes } from './childBoxes.js';
import { malformed, type BoxHeader } from './parseBoxHeader.js';
import { shiftChunkOffsets } from './shiftChunkOffsets.js';

/** Why a file is sent as it is. */
export type PassthroughReason = 'not-mp4' | 'moov-first' | 'no-moov' | 'fragmented';

/** A run of the original file's bytes, or bytes made anew (the new moov). */
export type FaststartPiece =
  { from: 'source'; offset: number; length: number } | { from: 'bytes'; bytes: Uint8Array };

export type FaststartPlan =
  | { remux: false; reason: PassthroughReason; size: number }
  | { remux: true; size: number; pieces: FaststartPiece[] };

/** Boxes that stay in front of moov, as `ffmpeg -movflags +faststart` and qt-faststart keep them. */
const HEAD_TYPES = new Set(['ftyp', 'pdin']);

/**
 * The top-level moov to move, or why none is moved: `boxes` are the file's top-level boxes up
 * to its first moov or moof (`readTopLevelBoxes`). Only a moov that comes after media data is
 * moved; a fragmented file (moof) streams already.
 */
export function findMoovToMove(boxes: readonly BoxHeader[]): BoxHeader | PassthroughReason {
  if (boxes.length === 0) return 'not-mp4';
  const last = boxes.at(-1);
  if (last?.type === 'moof') return 'fragmented';
  if (last?.type !== 'moov') return 'no-moov';
  return boxes.some((box) => box.type === 'mdat') ? last : 'moov-first';
}

/**
 * How to write `fileSize` bytes of which `boxes` are the top-level ones up to `moov` (whose
 * bytes are `moovBytes`) in faststart order: the head boxes (ftyp), the new moov with every
 * chunk offset moved, everything between them in order, then whatever followed the old moov.
 * A moov with `mvex` describes fragments: the file is left as it is.
 */
export function planFaststart(
  boxes: readonly BoxHeader[],
  moov: BoxHeader,
  moovBytes: Uint8Array,
  fileSize: number,
): FaststartPlan {
  const moovRoot = { ...moov, offset: 0 };
  if (childBoxes(moovBytes, moovRoot).some((child) => child.type === 'mvex')) {
    return { remux: false, reason: 'fragmented', size: fileSize };
  }
  const head = boxes.findIndex((box) => !HEAD_TYPES.has(box.type));
  const insertAt = boxes[head]?.offset ?? moov.offset;
  const moovEnd = moov.offset + moov.size;
  const newMoov = shiftChunkOffsets(moovBytes, (offset, newSize) => {
    if (offset < insertAt) return offset;
    if (offset < moov.offset) return offset + newSize;
    if (offset >= moovEnd) return offset + newSize - moov.size;
    throw malformed(`a chunk offset (${offset}) points into moov`);
  });
  const pieces: FaststartPiece[] = [
    { from: 'source', offset: 0, length: insertAt },
    { from: 'bytes', bytes: newMoov },
    { from: 'source', offset: insertAt, length: moov.offset - insertAt },
    { from: 'source', offset: moovEnd, length: fileSize - moovEnd },
  ];
  return {
    remux: true,
    size: fileSize - moov.size + newMoov.byteLength,
    pieces: pieces.filter((piece) => piece.from === 'bytes' || piece.length > 0),
  };
}
