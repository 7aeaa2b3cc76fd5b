import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ReelfluxError } from '../ReelfluxError.js';
import { readFaststartPlan } from './createFaststartStream.js';
import type { PassthroughReason } from './planFaststart.js';
import { openFileByteSource } from './openFileByteSource.js';
import { DEFAULT_CHUNK_BYTES, writeFaststart } from './writeFaststart.js';

/** Whether a file is sent remuxed (moov moved first), or why not. */
export type FaststartSent = 'faststart' | PassthroughReason | 'unremuxable';

export interface FaststartUpload {
  stream: Readable;
  /** The exact number of bytes `stream` gives. */
  size: number;
  sent: FaststartSent;
}

/** A file as an upload sends it, to be read from any offset (a resumed upload's). */
export interface FaststartSource {
  /** The exact number of bytes sent in all. */
  size: number;
  sent: FaststartSent;
  /** The bytes as sent, from byte `from` of them on. */
  open(from: number): Readable;
  /** Closes the file, once no stream `open` gave is read any more. */
  close(): Promise<void>;
}

/**
 * The file at `path` as an upload sends it: an MP4/MOV whose moov comes last in faststart
 * order, so the server can convert it while it arrives; any other file as it is on disk. A
 * file the remuxer cannot read (MALFORMED_MP4, MOOV_TOO_LARGE) is sent as it is too: the
 * server's sniffing and ffmpeg, not the client, decide what it holds.
 */
export async function openFaststartSource(path: string): Promise<FaststartSource> {
  const source = await openFileByteSource(path);
  const asItIs = async (sent: FaststartSent): Promise<FaststartSource> => {
    await source.close();
    return {
      size: source.size,
      sent,
      open: (from) => createReadStream(path, { start: from }),
      close: async () => {},
    };
  };
  try {
    const plan = await readFaststartPlan(source);
    if (!plan.remux) return await asItIs(plan.reason);
    return {
      size: plan.size,
      sent: 'faststart',
      // Bytes, not objects: the stream's buffer is then counted in bytes and stays small.
      open: (from) =>
        Readable.from(writeFaststart(source, plan.pieces, DEFAULT_CHUNK_BYTES, from), {
          objectMode: false,
        }),
      close: () => source.close(),
    };
  } catch (error) {
    if (error instanceof ReelfluxError && UNREMUXABLE.has(error.code)) {
      return asItIs('unremuxable');
    }
    await source.close();
    throw error;
  }
}

/** openFaststartSource, read once from the start. */
export async function openFaststartUpload(path: string): Promise<FaststartUpload> {
  const opened = await openFaststartSource(path);
  const stream = opened.open(0);
  stream.once('close', () => void opened.close());
  return { stream, size: opened.size, sent: opened.sent };
}

const UNREMUXABLE = new Set<string>(['MALFORMED_MP4', 'MOOV_TOO_LARGE']);
