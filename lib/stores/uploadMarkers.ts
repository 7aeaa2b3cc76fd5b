import type { Db, ObjectId } from 'mongodb';
import { UPLOADS_IN_PROGRESS } from './gridfs.js';

/**
 * The upload-marker protocol, shared by the two sides of the upload files and nobody else
 * (eslint.config.js): media's write side (uploadFiles.ts) and the worker's read side
 * (followUpload.ts).
 *
 * One document per upload streaming into the video bucket, `{_id: fileId, startedAt}`, written
 * before its first chunk and removed once its file document is complete; and, dated to the
 * epoch, around each removal of a video file. Media's janitor and fsck find uploads and
 * removals that died half-way here. Finding them from the chunks instead would read the whole
 * chunks collection each pass (on FerretDB, whose range filters are not pushed down to its
 * store, 15 s with 1 GB stored).
 */
export interface UploadInProgress {
  _id: ObjectId;
  /** The epoch for a removal: whatever it marks is being taken away, not arriving. */
  startedAt: Date;
  /** The uploader, so a dead upload's `video.deleted` can be sent by whoever finds it. */
  owner?: string;
  /**
   * A resumable upload's expiry: until then it is streaming however old `startedAt` is, since
   * it may pause between requests for far longer than one upload may take.
   */
  resumableUntil?: Date;
}

/** What a file's marker says: none, an upload streaming, a removal, or an upload that died. */
export type MarkerReading = 'none' | 'streaming' | 'removal' | 'stale';

const REMOVAL = new Date(0);

export const uploadMarkers = (db: Db) => db.collection<UploadInProgress>(UPLOADS_IN_PROGRESS);

/** Whether a marker marks a removal rather than an upload. */
export function isRemoval(marker: Pick<UploadInProgress, 'startedAt'>): boolean {
  return marker.startedAt.getTime() === REMOVAL.getTime();
}

/** Marks an upload as streaming, before its first chunk; a resumable one until it expires. */
export async function markUploadStarted(
  db: Db,
  fileId: ObjectId,
  owner: string,
  resumableUntil?: Date,
): Promise<void> {
  await uploadMarkers(db).insertOne({
    _id: fileId,
    startedAt: new Date(),
    owner,
    ...(resumableUntil ? { resumableUntil } : {}),
  });
}

/** Whether a marker is a resumable upload that has not expired: streaming, however old. */
export function isResumableAlive(marker: UploadInProgress, now = new Date()): boolean {
  return !isRemoval(marker) && (marker.resumableUntil?.getTime() ?? 0) > now.getTime();
}

/** Marks a file as being removed (its marker dated to the epoch). Idempotent. */
export async function markRemoval(db: Db, fileId: ObjectId, owner?: string): Promise<void> {
  await uploadMarkers(db).updateOne(
    { _id: fileId },
    { $set: { startedAt: REMOVAL, ...(owner ? { owner } : {}) } },
    { upsert: true },
  );
}

/** Drops a file's marker: its upload is whole, or its removal done. */
export async function dropMarker(db: Db, fileId: ObjectId): Promise<void> {
  await uploadMarkers(db).deleteOne({ _id: fileId });
}

/** Reads a file's marker; one older than `staleAfterMs` is an upload whose media process died. */
export async function readMarker(
  db: Db,
  fileId: ObjectId,
  staleAfterMs: number,
): Promise<MarkerReading> {
  const marker = await uploadMarkers(db).findOne(
    { _id: fileId },
    { projection: { startedAt: 1, resumableUntil: 1 } },
  );
  if (!marker) return 'none';
  if (isRemoval(marker)) return 'removal';
  if (isResumableAlive(marker)) return 'streaming';
  return marker.startedAt.getTime() > Date.now() - staleAfterMs ? 'streaming' : 'stale';
}
