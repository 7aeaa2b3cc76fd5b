import { ReelfluxError } from '../ReelfluxError.js';

/** Where one ISO BMFF (MP4/MOV) box lies, in the coordinates of the bytes it was read from. */
export interface BoxHeader {
  /** Four characters, e.g. `moov`. */
  type: string;
  offset: number;
  /** The whole box, header included. */
  size: number;
  /** 8, or 16 with a 64-bit largesize; a `uuid` box's user type is not counted. */
  headerSize: number;
}

/** The most a box header takes: size, type, largesize. */
export const MAX_BOX_HEADER = 16;

const fourCc = (bytes: Uint8Array, at: number): string =>
  String.fromCharCode(bytes[at] ?? 0, bytes[at + 1] ?? 0, bytes[at + 2] ?? 0, bytes[at + 3] ?? 0);

/**
 * The header of the box at `offset`, from `bytes` (its first up to 16 bytes at `at`). `end` is
 * where its parent (or the file) ends: size 0 means "up to there", size 1 a 64-bit largesize.
 * A box that is too small or runs past `end` is MALFORMED_MP4: the file is cut off or damaged.
 */
export function parseBoxHeader(
  bytes: Uint8Array,
  at: number,
  offset: number,
  end: number,
): BoxHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (at + 8 > bytes.byteLength) throw malformed(`a box header at ${offset} is cut off`);
  const compact = view.getUint32(at);
  const type = fourCc(bytes, at + 4);
  let size = compact;
  let headerSize = 8;
  if (compact === 1) {
    if (at + 16 > bytes.byteLength) throw malformed(`the '${type}' box at ${offset} is cut off`);
    size = Number(view.getBigUint64(at + 8));
    headerSize = 16;
  } else if (compact === 0) {
    size = end - offset;
  }
  if (size < headerSize || !Number.isSafeInteger(size) || offset + size > end) {
    throw malformed(
      `the '${type}' box at ${offset} (${size} bytes) runs past its end at ${end}: cut off?`,
    );
  }
  return { type, offset, size, headerSize };
}

export function malformed(detail: string): ReelfluxError {
  return new ReelfluxError('MALFORMED_MP4', `malformed MP4/MOV: ${detail}`);
}
