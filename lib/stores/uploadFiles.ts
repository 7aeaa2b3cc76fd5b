import { Writable } from 'node:stream';
import { Binary, ObjectId, type Collection, type Db } from 'mongodb';
import {
  GRIDFS_CHUNK_SIZE,
  VIDEO_BUCKET,
  ensureGridFsIndexes,
  removeGridFsFile,
} from './gridfs.js';
import {
  dropMarker,
  isResumableAlive,
  markRemoval,
  markUploadStarted,
  uploadMarkers,
  type UploadInProgress,
} from './uploadMarkers.js';

/**
 * Media's side of the upload files (GridFS bucket `videos` and its markers): it stores
 * uploads as they stream, marks and performs their removal, and finds what a crash left
 * half-done. Workers read the same files through followUpload.ts; nothing else writes them.
 */

export type { UploadInProgress } from './uploadMarkers.js';
export { isResumableAlive } from './uploadMarkers.js';
export { ResumableChunkWriter } from './ResumableChunkWriter.js';

/** The indexes uploads and their markers need; media makes sure of them at start. */
export async function ensureUploadIndexes(db: Db): Promise<void> {
  await ensureGridFsIndexes(db, VIDEO_BUCKET);
  await uploadMarkers(db).createIndex({ startedAt: 1 }, { name: 'by_age' });
}

/**
 * Chunk inserts an upload keeps in flight. One after another, each insert waits for the store's
 * round trip before the next is sent; a few at once keep it busy (bench:upload measures it).
 * Memory stays bounded: this many chunks, and one being filled.
 */
export const UPLOAD_CHUNK_WRITES = 4;

/**
 * Opens the upload stream of a new video file, having marked it as streaming first (so a
 * worker can follow it, and the janitor finds it if this process dies mid-way).
 */
export async function openUploadFile(
  db: Db,
  fileId: ObjectId,
  filename: string,
  owner: string,
): Promise<UploadFileStream> {
  await markUploadStarted(db, fileId, owner);
  return new UploadFileStream(db, { fileId, filename, owner });
}

interface ChunkDocument {
  _id: ObjectId;
  files_id: ObjectId;
  n: number;
  data: Binary;
}

/**
 * A GridFS file written as the driver's bucket writes it (chunks `{files_id, n, data}` of
 * GRIDFS_CHUNK_SIZE, then the file document with its length), but with UPLOAD_CHUNK_WRITES
 * chunk inserts in flight rather than one. Chunks may land out of order; readers look each up
 * by `{files_id, n}` and wait for it (followUpload.ts), and the file document, which says the
 * file is whole, goes in only once every chunk has landed.
 *
 * It knows when its writes have landed (`settled`): a chunk insert already sent is not stopped
 * by destroying the stream, and removing a failed upload's chunks before it lands would leave
 * it behind, with no file and no marker.
 */
export class UploadFileStream extends Writable {
  private readonly chunks: Collection<ChunkDocument>;
  private readonly inFlight = new Set<Promise<void>>();
  private failure: Error | undefined;
  /** Bytes received and not yet sent as a chunk: less than one chunk. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private n = 0;
  private length = 0;

  constructor(
    private readonly db: Db,
    private readonly file: { fileId: ObjectId; filename: string; owner: string },
  ) {
    super();
    this.chunks = db.collection<ChunkDocument>(`${VIDEO_BUCKET}.chunks`);
  }

  /** Resolves once no chunk or file document is being written; it never rejects. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.length += chunk.length;
    void this.sendWhole().then(() => done(this.failure));
  }

  /** Sends every whole chunk pending, each once there is room for it, then waits for room. */
  private async sendWhole(): Promise<void> {
    for (;;) {
      await this.room();
      if (this.failure || this.pendingBytes < GRIDFS_CHUNK_SIZE) return;
      this.send(this.take(GRIDFS_CHUNK_SIZE));
    }
  }

  override _final(done: (error?: Error | null) => void) {
    if (this.pendingBytes > 0) this.send(this.take(this.pendingBytes));
    void this.settled().then(async () => {
      if (this.failure) return done(this.failure);
      const write = this.db.collection(`${VIDEO_BUCKET}.files`).insertOne({
        _id: this.file.fileId,
        length: this.length,
        chunkSize: GRIDFS_CHUNK_SIZE,
        uploadDate: new Date(),
        filename: this.file.filename,
        metadata: { owner: this.file.owner },
      });
      this.track(write.then(() => undefined));
      await this.settled();
      done(this.failure);
    });
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void) {
    void this.settled().then(() => done(error));
  }

  /** The first `bytes` of what is pending, as one buffer. */
  private take(bytes: number): Buffer {
    const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
    const rest = all.subarray(bytes);
    this.pending = rest.length > 0 ? [rest] : [];
    this.pendingBytes = rest.length;
    return all.subarray(0, bytes);
  }

  private send(data: Buffer): void {
    const n = this.n++;
    if (this.failure) return;
    const document = { _id: new ObjectId(), files_id: this.file.fileId, n, data: new Binary(data) };
    this.track(this.chunks.insertOne(document).then(() => undefined));
  }

  /** Records a write; its failure fails the stream, at the next write or at its end. */
  private track(write: Promise<void>): void {
    const tracked = write.then(
      () => undefined,
      (error: unknown) => {
        this.failure ??= error instanceof Error ? error : new Error(String(error));
      },
    );
    this.inFlight.add(tracked);
    void tracked.then(() => this.inFlight.delete(tracked));
  }

  /** Resolves once fewer than UPLOAD_CHUNK_WRITES chunk inserts are in flight. */
  private async room(): Promise<void> {
    while (this.inFlight.size >= UPLOAD_CHUNK_WRITES) await Promise.race(this.inFlight);
  }
}

/**
 * Marks a video as being removed: from here on a worker following it, or finishing its MP3,
 * finds it gone. Idempotent.
 */
export async function markUploadRemoval(db: Db, fileId: ObjectId, owner?: string): Promise<void> {
  await markRemoval(db, fileId, owner);
}

/**
 * Removes a video file whole or in part (a failed upload, a deleted or withdrawn video) so that
 * a removal cut off half-way is finished later: its marker, dated to the epoch so the janitor's
 * next pass takes it, goes in first and comes out last (or stays, with `keepMarker`, for the
 * janitor to finish what the caller could not: announcing the upload's end). A worker following
 * the upload reads that marker as the upload's end.
 */
export async function removeUploadFile(
  db: Db,
  fileId: ObjectId,
  options: { keepMarker?: boolean; owner?: string } = {},
): Promise<void> {
  await markRemoval(db, fileId, options.owner);
  await removeGridFsFile(db, VIDEO_BUCKET, fileId);
  if (!options.keepMarker) await dropMarker(db, fileId);
}

/**
 * Uploads and removals marked before `cutoff`: finished, or left half-done by a crash. A
 * resumable upload that has not expired is neither, however old its mark.
 */
export async function uploadsMarkedBefore(db: Db, cutoff: Date): Promise<UploadInProgress[]> {
  const marked = await uploadMarkers(db)
    .find({ startedAt: { $lt: cutoff } })
    .toArray();
  return marked.filter((marker) => !isResumableAlive(marker));
}

/**
 * Opens a resumable upload's file: its marker says it streams until `resumableUntil`. Its
 * chunks are written by the resumable upload itself (createResumableUploads), request after
 * request, and its file document once the last byte is in.
 */
export async function openResumableUploadFile(
  db: Db,
  fileId: ObjectId,
  owner: string,
  resumableUntil: Date,
): Promise<void> {
  await markUploadStarted(db, fileId, owner, resumableUntil);
}

/** Every marker, for fsck. */
export function uploadMarkersNow(db: Db): Promise<UploadInProgress[]> {
  return uploadMarkers(db).find().toArray();
}

/**
 * The upload is whole: its marker goes (media, once the file document is written; the janitor,
 * for an upload whose process died just after).
 */
export async function dropUploadMarker(db: Db, fileId: ObjectId): Promise<void> {
  await dropMarker(db, fileId);
}

/** Whether the upload's file document is written (the upload ended whole). */
export async function isUploadStored(db: Db, fileId: ObjectId): Promise<boolean> {
  return (await db.collection(`${VIDEO_BUCKET}.files`).findOne({ _id: fileId })) !== null;
}

/** Upload files made whole between `since` and `before`, with their uploader. */
export function uploadFilesStoredBetween(
  db: Db,
  since: Date,
  before: Date,
): Promise<{ _id: ObjectId; metadata?: { owner?: string } }[]> {
  return db
    .collection<{ _id: ObjectId; metadata?: { owner?: string } }>(`${VIDEO_BUCKET}.files`)
    .find(
      { uploadDate: { $gte: since, $lt: before } },
      { projection: { _id: 1, 'metadata.owner': 1 } },
    )
    .toArray();
}

/**
 * Makes a resumable upload's file whole once its last chunk is written: its file document, as
 * the driver's upload stream writes one, then its marker goes. Safe to repeat.
 */
export async function completeResumableUploadFile(
  db: Db,
  fileId: ObjectId,
  file: { length: number; filename: string; owner: string },
): Promise<void> {
  await db.collection(`${VIDEO_BUCKET}.files`).updateOne(
    { _id: fileId },
    {
      $setOnInsert: {
        length: file.length,
        chunkSize: GRIDFS_CHUNK_SIZE,
        uploadDate: new Date(),
        filename: file.filename,
        metadata: { owner: file.owner },
      },
    },
    { upsert: true },
  );
  await dropMarker(db, fileId);
}
