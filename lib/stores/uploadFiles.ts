import { Writable } from 'node:stream';
import { GridFSBucket, type Db, type GridFSBucketWriteStream, type ObjectId } from 'mongodb';
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
  return new UploadFileStream(
    new GridFSBucket(db, { bucketName: VIDEO_BUCKET }).openUploadStreamWithId(fileId, filename, {
      metadata: { owner },
    }),
  );
}

/**
 * The driver's GridFS stream, behind one that knows when its writes have landed. Destroying
 * the driver's stream does not stop a chunk insert already sent: removing a failed upload's
 * chunks before that insert lands would leave the chunk behind, with no file and no marker.
 */
export class UploadFileStream extends Writable {
  private inFlight: Promise<void> = Promise.resolve();

  constructor(private readonly file: GridFSBucketWriteStream) {
    super();
    // Every failure reaches the write or end callbacks below; the event would be a second copy.
    file.on('error', () => undefined);
  }

  /** Resolves once no chunk or file document is being written; it never rejects. */
  settled(): Promise<void> {
    return this.inFlight;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.track((landed) => this.file.write(chunk, landed), done);
  }

  override _final(done: (error?: Error | null) => void) {
    this.track((landed) => this.file.end(landed), done);
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void) {
    void this.inFlight.then(() => {
      this.file.destroy();
      done(error);
    });
  }

  private track(
    send: (landed: (error?: Error | null) => void) => void,
    done: (error?: Error | null) => void,
  ) {
    this.inFlight = new Promise((resolve) =>
      send((error) => {
        resolve();
        done(error);
      }),
    );
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
