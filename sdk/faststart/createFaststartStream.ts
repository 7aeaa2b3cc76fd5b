import { ReelfluxError } from '../ReelfluxError.js';
import type { ByteSource } from './ByteSource.js';
import { findMoovToMove, planFaststart, type FaststartPlan } from './planFaststart.js';
import { readTopLevelBoxes } from './readTopLevelBoxes.js';
import { DEFAULT_CHUNK_BYTES, writeFaststart } from './writeFaststart.js';

/** The largest moov read into memory; a phone's hour of video has a few megabytes of it. */
export const DEFAULT_MAX_MOOV_BYTES = 64 * 1024 * 1024;

export interface FaststartOptions {
  maxMoovBytes?: number;
  chunkBytes?: number;
  /** Where in the result `chunks` begins: a resumed upload's offset. @default 0 */
  start?: number;
}

export interface FaststartStream {
  /** The exact length of the whole result, known before the first byte (for Upload-Length). */
  size: number;
  plan: FaststartPlan;
  chunks: AsyncIterable<Uint8Array>;
}

/**
 * How to send `source` so that it streams: an MP4/MOV whose moov comes after its media data is
 * remuxed (moov first, chunk offsets moved; the same samples), any other file comes as it is.
 * Only the box headers and moov are read here; the rest is read as `chunks` is consumed.
 * Rejects with MALFORMED_MP4 (a cut-off or damaged file) or MOOV_TOO_LARGE.
 */
export async function createFaststartStream(
  source: ByteSource,
  options: FaststartOptions = {},
): Promise<FaststartStream> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const plan = await readFaststartPlan(source, options.maxMoovBytes ?? DEFAULT_MAX_MOOV_BYTES);
  const pieces = plan.remux
    ? plan.pieces
    : [{ from: 'source' as const, offset: 0, length: source.size }];
  const chunks = writeFaststart(source, pieces, chunkBytes, options.start ?? 0);
  return { size: plan.size, plan, chunks };
}

/** The plan for `source`, reading its box headers and, if it is to move, its moov. */
export async function readFaststartPlan(
  source: ByteSource,
  maxMoovBytes = DEFAULT_MAX_MOOV_BYTES,
): Promise<FaststartPlan> {
  const boxes = await readTopLevelBoxes(source);
  const moov = findMoovToMove(boxes);
  if (typeof moov === 'string') return { remux: false, reason: moov, size: source.size };
  if (moov.size > maxMoovBytes) {
    throw new ReelfluxError(
      'MOOV_TOO_LARGE',
      `the MP4/MOV index (moov) is ${moov.size} bytes, more than the ${maxMoovBytes} read into memory`,
    );
  }
  const moovBytes = await source.read(moov.offset, moov.size);
  return planFaststart(boxes, moov, moovBytes, source.size);
}
