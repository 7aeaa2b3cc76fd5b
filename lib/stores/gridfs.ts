import { Readable } from 'node:stream';
import type { Binary, Db, ObjectId } from 'mongodb';
import { setTimeout as sleep } from 'node:timers/promises';

/** Media's GridFS buckets: uploaded videos, and the MP3s workers write. */
export const VIDEO_BUCKET = 'videos';
export const AUDIO_BUCKET = 'audio';

/**
 * One document per upload streaming into media's video bucket, `{_id: fileId, startedAt}`,
 * written before its first chunk and removed once its file document is complete (and, dated to
 * the epoch, around each removal of a video file). Media's janitor and fsck find uploads and
 * removals that died half-way here. Finding them from the chunks instead would read the whole
 * chunks collection each pass (on FerretDB, whose range filters are not pushed down to its
 * store, 15 s with 1 GB stored).
 */
export const UPLOADS_IN_PROGRESS = 'uploads_in_progress';

export interface UploadInProgress {
  _id: ObjectId;
  /** The epoch for a removal: whatever it marks is being taken away, not arriving. */
  startedAt: Date;
  /** The uploader, so a dead upload's `video.deleted` can be sent by whoever finds it. */
  owner?: string;
}

/** Media's video records (`videos` in media's database), as a worker reads them. */
export const VIDEO_RECORDS = 'videos';

/** What a worker reads of a video record: whether the upload is over and what it stored. */
export interface StoredVideo {
  _id: ObjectId;
  bytes: number;
  sha256: string;
  /** True once `video.uploaded` is confirmed: the client was told the upload succeeded. */
  announced: boolean;
}

/** GridFS's default chunk size (255 KiB), which media's uploads and the worker's MP3s use. */
export const GRIDFS_CHUNK_SIZE = 255 * 1024;

/** What a worker writes into `audio.files` metadata beside the MP3. */
export interface AudioMetadata {
  owner: string;
  videoId: string;
  conversionId: string;
  durationSeconds: number;
  bitrateKbps: number;
  sha256: string;
}

/**
 * The indexes GridFS readers rely on, as the driver makes them on a bucket's first upload
 * (same keys and names, so either may come first): chunks by `{files_id, n}`, unique, which
 * every chunk lookup uses; files by name and date. Writers that insert chunks themselves (the
 * worker storing an MP3 as it grows) never pass through the driver's upload stream, so they
 * make sure of these at start: without them, each chunk lookup scans the bucket.
 */
export async function ensureGridFsIndexes(db: Db, bucketName: string): Promise<void> {
  await db
    .collection(`${bucketName}.chunks`)
    .createIndex({ files_id: 1, n: 1 }, { unique: true, name: 'files_id_1_n_1' });
  await db
    .collection(`${bucketName}.files`)
    .createIndex({ filename: 1, uploadDate: 1 }, { name: 'filename_1_uploadDate_1' });
}

/**
 * Each run of a conversion stores its MP3 under a file id of its own, so a run that lost its
 * conversion (frozen, then taken over) can never write into, or remove, the MP3 of the run that
 * owns it; the conversion record names the one that counts (`audioId`, once SUCCEEDED). Every
 * chunk also carries its `conversionId`, so what runs killed mid-way left can be found and
 * removed without a file document. (MP3s stored before this have the conversion's id as file
 * id, and chunks without `conversionId`: `removeMp3sOf` takes those too.)
 */
export interface Mp3Chunk {
  files_id: ObjectId;
  n: number;
  data: Binary;
  conversionId: string;
}

/** The indexes `removeMp3sOf` uses, beside the GridFS ones. */
export async function ensureMp3Indexes(db: Db): Promise<void> {
  await ensureGridFsIndexes(db, AUDIO_BUCKET);
  await db
    .collection(`${AUDIO_BUCKET}.chunks`)
    .createIndex({ conversionId: 1 }, { name: 'by_conversion' });
  await db
    .collection(`${AUDIO_BUCKET}.files`)
    .createIndex({ 'metadata.conversionId': 1 }, { name: 'by_conversion' });
}

/** Removes every MP3 of a conversion, whole or in part, but the file `keep` (its SUCCEEDED one). */
export async function removeMp3sOf(db: Db, conversionId: ObjectId, keep?: ObjectId): Promise<void> {
  const id = conversionId.toHexString();
  const notKept = keep ? { $ne: keep } : { $exists: true };
  await db
    .collection(`${AUDIO_BUCKET}.files`)
    .deleteMany({ 'metadata.conversionId': id, _id: notKept });
  await db.collection(`${AUDIO_BUCKET}.chunks`).deleteMany({ conversionId: id, files_id: notKept });
  if (!keep?.equals(conversionId)) await removeGridFsFile(db, AUDIO_BUCKET, conversionId);
}

/**
 * Deletes a GridFS file whole or in part: its chunks, and its file document if it got that
 * far. An aborted upload leaves chunks without a file document, which bucket.delete() misses.
 */
export async function removeGridFsFile(
  db: Db,
  bucketName: string,
  fileId: ObjectId,
): Promise<void> {
  // The file document first: interrupted after it, what is left is chunks without a file,
  // which nobody can read; the other order would leave a file that cannot be read whole. A
  // caller that must see the removal through marks it first (media's removeVideoFile).
  await db.collection(`${bucketName}.files`).deleteOne({ _id: fileId });
  await db.collection(`${bucketName}.chunks`).deleteMany({ files_id: fileId });
}

/** One chunk's data by `{files_id, n}`, or null while it is not (yet) there. */
function chunkLookup(db: Db, bucketName: string, fileId: ObjectId) {
  const chunks = db.collection<{ files_id: ObjectId; n: number; data: Binary }>(
    `${bucketName}.chunks`,
  );
  return (n: number) => {
    const found = chunks.findOne({ files_id: fileId, n }, { projection: { _id: 0, data: 1 } });
    // Handled when awaited; this keeps a lookup that fails after the reader stopped from
    // becoming an unhandled rejection.
    found.catch(() => undefined);
    return found;
  };
}

/** Chunks asked for ahead of the one being sent (each reader holds a few chunks, a few MiB). */
const READ_AHEAD = 4;

/**
 * Streams a GridFS file, or the byte range `start`–`end` (inclusive) of it, with bounded
 * memory, one chunk at a time by `{files_id, n}` with a few lookups in flight.
 *
 * Why point lookups and not one cursor over `n: {$gte, $lte}` sorted by `n`: on MongoDB both
 * use the `{files_id, n}` index, but FerretDB pushes only equality down to its store. A range
 * cursor there fetches every chunk of the file and sorts them in memory before the first byte,
 * so a 1 MiB Range of a 50 MB file cost as much as the whole file (770 ms against 1.15 s,
 * `npm run bench:store`); each point lookup is one indexed row. The driver's own download
 * stream is no better: it leaves batch sizes to the server, and FerretDB answers a getMore
 * with every remaining chunk (2 GB in one reply for a 2 GB file).
 */
export function readGridFsFile(
  db: Db,
  bucketName: string,
  file: { _id: ObjectId; length: number; chunkSize: number },
  range?: { start: number; end: number },
): Readable {
  const start = range?.start ?? 0;
  const end = range?.end ?? file.length - 1;
  const lookUp = chunkLookup(db, bucketName, file._id);
  async function* generate() {
    if (file.length === 0 || end < start) return;
    const first = Math.floor(start / file.chunkSize);
    const last = Math.floor(end / file.chunkSize);
    const inFlight: ReturnType<typeof lookUp>[] = [];
    let next = first;
    for (let n = first; n <= last; n++) {
      while (next <= last && inFlight.length < READ_AHEAD) inFlight.push(lookUp(next++));
      const chunk = await inFlight.shift();
      if (!chunk) {
        throw new Error(`GridFS file ${file._id.toHexString()} is missing chunk ${n}`);
      }
      const offset = n * file.chunkSize;
      const data = Buffer.from(chunk.data.buffer);
      yield data.subarray(Math.max(0, start - offset), Math.min(data.length, end - offset + 1));
    }
  }
  return Readable.from(generate(), { objectMode: false });
}

/** The upload a reader followed ended without a whole file: cut off, refused, or abandoned. */
export class UploadFailedError extends Error {
  override name = 'UploadFailedError';
}

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
  const marker = await db
    .collection<UploadInProgress>(UPLOADS_IN_PROGRESS)
    .findOne({ _id: fileId }, { projection: { startedAt: 1 } });
  const file = await db
    .collection<{ _id: ObjectId; length: number; chunkSize: number }>(`${VIDEO_BUCKET}.files`)
    .findOne({ _id: fileId });
  if (marker?.startedAt.getTime() === 0) return { kind: 'gone' };
  if (file) return { kind: 'complete', file };
  if (marker && marker.startedAt.getTime() > Date.now() - staleAfterMs)
    return { kind: 'streaming' };
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
