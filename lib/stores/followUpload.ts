import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db, ObjectId } from 'mongodb';
import { READ_AHEAD, VIDEO_BUCKET, VIDEO_RECORDS, chunkLookup } from './gridfs.js';
import { UploadFailedError } from './UploadFailedError.js';
import { readMarker } from './uploadMarkers.js';

/**
 * The workers' side of the upload files (GridFS bucket `videos`), read-only: where an upload
 * stands, its bytes as they arrive (or as stored), and whether media stored and announced it.
 * Media writes them (uploadFiles.ts).
 */

export { UploadFailedError };

export type UploadState =
  | { kind: 'streaming' }
  | { kind: 'complete'; file: { _id: ObjectId; length: number; chunkSize: number } }
  | { kind: 'gone' };

/**
 * Where a video upload stands, from its marker and its file document. The marker is read
 * first: it goes only after the file document is written (or the chunks removed), so no
 * interleaving with a finishing upload reads as "gone". A marker older than `staleAfterMs` is
 * an upload whose media process died; one dated to the epoch is a removal.
 */
export async function videoUploadState(
  db: Db,
  fileId: ObjectId,
  staleAfterMs: number,
): Promise<UploadState> {
  const marker = await readMarker(db, fileId, staleAfterMs);
  const file = await db
    .collection<{ _id: ObjectId; length: number; chunkSize: number }>(`${VIDEO_BUCKET}.files`)
    .findOne({ _id: fileId });
  if (marker === 'removal') return { kind: 'gone' };
  if (file) return { kind: 'complete', file };
  if (marker === 'streaming') return { kind: 'streaming' };
  return { kind: 'gone' };
}

/**
 * How long a reader following an upload waits before it looks for the next chunk again: 25 ms
 * while chunks come, doubling while none does, up to 400 ms. A stalled upload then costs the
 * store a few lookups a second per reader rather than dozens.
 */
const FOLLOW_POLL_MS = 25;
const FOLLOW_POLL_MAX_MS = 400;
/** Polls for the next chunk between two looks at the upload's state (about 100 ms). */
const POLLS_PER_STATE_CHECK = 4;

/**
 * Streams a video while it is still being uploaded: chunk after chunk as media writes them,
 * waiting (with backpressure, nothing buffered past the read-ahead) when it has caught up, and
 * ending once the file document says the last chunk is in. Fails with UploadFailedError when
 * the upload ends without a file (cut off, too large, not media, over quota, or its media
 * process died). Works the same across replicas: all it reads is the store, by `{files_id, n}`,
 * the lookups readGridFsFile makes. Caught up, it asks for one chunk per poll, and for the
 * upload's state every few polls.
 */
export function followVideoUpload(
  db: Db,
  fileId: ObjectId,
  options: { staleAfterMs: number; signal?: AbortSignal },
): Readable {
  // Destroying the stream must end a wait for the next chunk at once, not at that chunk.
  const destroyed = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, destroyed.signal])
    : destroyed.signal;
  const lookUp = chunkLookup(db, VIDEO_BUCKET, fileId);
  async function* generate() {
    let length: number | undefined;
    let chunkSize: number | undefined;
    let n = 0;
    let misses = 0;
    let inFlight: { n: number; found: ReturnType<typeof lookUp> }[] = [];
    for (;;) {
      signal.throwIfAborted();
      if (length !== undefined && chunkSize !== undefined && n * chunkSize >= length) return;
      const last = length !== undefined && chunkSize ? Math.ceil(length / chunkSize) - 1 : Infinity;
      const ahead = misses > 0 ? 1 : READ_AHEAD;
      let ask = inFlight.at(-1)?.n ?? n - 1;
      while (ask < last && inFlight.length < ahead) {
        ask++;
        inFlight.push({ n: ask, found: lookUp(ask) });
      }
      const chunk = await inFlight.shift()?.found;
      if (chunk) {
        n++;
        misses = 0;
        yield Buffer.from(chunk.data.buffer);
        continue;
      }
      // Caught up with the upload (the lookups behind this one are misses too), or it ended.
      inFlight = [];
      const wait = Math.min(
        FOLLOW_POLL_MAX_MS,
        FOLLOW_POLL_MS * 2 ** Math.floor(misses / POLLS_PER_STATE_CHECK),
      );
      if (length === undefined && misses++ % POLLS_PER_STATE_CHECK !== 0) {
        await sleep(wait, undefined, { signal });
        continue;
      }
      const state = await videoUploadState(db, fileId, options.staleAfterMs);
      if (state.kind === 'gone') throw new UploadFailedError('The upload did not complete');
      if (length !== undefined) {
        throw new Error(`GridFS file ${fileId.toHexString()} is missing chunk ${n}`);
      }
      if (state.kind === 'complete') {
        length = state.file.length;
        chunkSize = state.file.chunkSize;
        continue;
      }
      await sleep(wait, undefined, { signal });
    }
  }
  const stream = Readable.from(generate(), { objectMode: false });
  stream.once('close', () => destroyed.abort());
  const destroy = stream._destroy.bind(stream);
  stream._destroy = (error, done) => {
    destroyed.abort();
    destroy(error, done);
  };
  return stream;
}

/** What a worker reads of a video record: whether the upload is over and what it stored. */
interface StoredVideo {
  _id: ObjectId;
  bytes: number;
  sha256: string;
  /** True once `video.uploaded` is confirmed: the client was told the upload succeeded. */
  announced: boolean;
}

/** How long a finished conversion waits for media to announce its upload, then retries. */
const ANNOUNCE_WAIT_MS = 60_000;

/**
 * Waits for media to announce the upload (the client was told it is stored), then checks it
 * holds exactly the bytes `read`. An upload withdrawn meanwhile ends in UploadFailedError; one
 * stored and never announced, in an error that is retried.
 */
export async function expectAnnouncedUpload(
  db: Db,
  videoId: ObjectId,
  read: { bytes: number; sha256: () => string },
  options: { staleAfterMs: number; signal: AbortSignal },
): Promise<void> {
  const giveUpAt = Date.now() + ANNOUNCE_WAIT_MS;
  for (;;) {
    const video = await db
      .collection<StoredVideo>(VIDEO_RECORDS)
      .findOne({ _id: videoId }, { projection: { bytes: 1, sha256: 1, announced: 1 } });
    if (video?.announced) {
      if (video.bytes !== read.bytes || video.sha256 !== read.sha256()) {
        throw new Error('The bytes converted differ from the stored upload');
      }
      return;
    }
    if (!video && (await videoUploadState(db, videoId, options.staleAfterMs)).kind === 'gone') {
      throw new UploadFailedError('The upload was withdrawn');
    }
    if (Date.now() > giveUpAt) {
      throw new Error(`The upload was stored but not announced within ${ANNOUNCE_WAIT_MS} ms`);
    }
    await sleep(25, undefined, { signal: options.signal });
  }
}
