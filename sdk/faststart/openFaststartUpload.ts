import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ReelfluxError } from '../ReelfluxError.js';
import { createFaststartStream } from './createFaststartStream.js';
import type { PassthroughReason } from './planFaststart.js';
import { openFileByteSource } from './openFileByteSource.js';

export interface FaststartUpload {
  stream: Readable;
  /** The exact number of bytes `stream` gives. */
  size: number;
  /** Whether the file is sent remuxed (moov moved first), or why not. */
  sent: 'faststart' | PassthroughReason | 'unremuxable';
}

/**
 * The file at `path` as an upload sends it: an MP4/MOV whose moov comes last in faststart
 * order, so the server can convert it while it arrives; any other file as it is on disk. A
 * file the remuxer cannot read (MALFORMED_MP4, MOOV_TOO_LARGE) is sent as it is too: the
 * server's sniffing and ffmpeg, not the client, decide what it holds.
 */
export async function openFaststartUpload(path: string): Promise<FaststartUpload> {
  const source = await openFileByteSource(path);
  const asItIs = async (sent: FaststartUpload['sent']): Promise<FaststartUpload> => {
    await source.close();
    return { stream: createReadStream(path), size: source.size, sent };
  };
  try {
    const faststart = await createFaststartStream(source);
    if (!faststart.plan.remux) return await asItIs(faststart.plan.reason);
    // Bytes, not objects: the stream's buffer is then counted in bytes and stays small.
    const stream = Readable.from(faststart.chunks, { objectMode: false });
    stream.once('close', () => void source.close());
    return { stream, size: faststart.size, sent: 'faststart' };
  } catch (error) {
    if (error instanceof ReelfluxError && UNREMUXABLE.has(error.code)) {
      return asItIs('unremuxable');
    }
    await source.close();
    throw error;
  }
}

const UNREMUXABLE = new Set<string>(['MALFORMED_MP4', 'MOOV_TOO_LARGE']);
