/**
 * Whether a video can be converted as it arrives, judged from its first bytes alone (no
 * ffprobe, no ffmpeg: a pure function of the head, unit-tested).
 *
 * ffmpeg reads a pipe front to back. An MP4 (ISO BMFF) can be read that way only when its index,
 * the `moov` box, comes before the media data (`mdat`), as a "fast start" file has it. With the
 * index last, as phones and cameras write it, ffmpeg reads the whole pipe, finds no way back,
 * and exits 0 with an empty output. Matroska and WebM start with their index and say their
 * duration up front (when they say it at all, which the probe of the head then checks). Every
 * other container is converted from the stored file: for MPEG-TS, AVI, FLV, Ogg and the rest,
 * the head does not tell the duration the output is checked against.
 */
export type Streamability =
  /** Probe the first `headBytes` (the whole index), then convert as the bytes arrive. */
  | { kind: 'stream'; headBytes: number }
  /** Convert from the stored file once the upload completes, for this reason. */
  | { kind: 'stored'; reason: string }
  /** Not decided yet: wait for more bytes. */
  | { kind: 'more' };

/** The most of a head that is read to find the index; past it, the stored file is used. */
export const MAX_HEAD_BYTES = 16 * 2 ** 20;

/** Bytes of a Matroska or WebM head ffprobe reads to find its tracks and duration. */
const MATROSKA_HEAD_BYTES = 2 ** 20;

const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);

/** `complete`: `head` is the whole file (the upload ended within it). */
export function readStreamability(head: Buffer, complete: boolean): Streamability {
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'ftyp') return isoBmff(head, complete);
  if (head.length >= 4 && head.subarray(0, 4).equals(EBML_MAGIC)) {
    if (head.length >= MATROSKA_HEAD_BYTES || complete) {
      return { kind: 'stream', headBytes: Math.min(head.length, MATROSKA_HEAD_BYTES) };
    }
    return { kind: 'more' };
  }
  if (head.length < 8 && !complete) return { kind: 'more' };
  return { kind: 'stored', reason: 'this container is read from the stored file' };
}

/** Walks the top-level boxes up to `moov` (stream) or `mdat` (stored). */
function isoBmff(head: Buffer, complete: boolean): Streamability {
  let offset = 0;
  while (offset + 8 <= head.length) {
    let size = head.readUInt32BE(offset);
    const type = head.toString('latin1', offset + 4, offset + 8);
    let header = 8;
    if (size === 1) {
      if (offset + 16 > head.length) break;
      size = Number(head.readBigUInt64BE(offset + 8));
      header = 16;
    } else if (size === 0) {
      // "To the end of the file": only the last box may say so.
      size = complete ? head.length - offset : Number.POSITIVE_INFINITY;
    }
    if (size < header) return { kind: 'stored', reason: 'malformed MP4 box' };
    if (type === 'mdat') return { kind: 'stored', reason: 'MP4 index (moov) after the media data' };
    if (type === 'moov') {
      const end = offset + size;
      // A moov that runs to the end of a file still arriving: wait (the caller caps the head).
      if (!Number.isFinite(end)) return { kind: 'more' };
      if (end > MAX_HEAD_BYTES) return { kind: 'stored', reason: 'MP4 index larger than 16 MiB' };
      if (end <= head.length) return { kind: 'stream', headBytes: end };
      return complete ? { kind: 'stored', reason: 'MP4 index cut short' } : { kind: 'more' };
    }
    offset += size;
  }
  return complete ? { kind: 'stored', reason: 'no MP4 index' } : { kind: 'more' };
}
