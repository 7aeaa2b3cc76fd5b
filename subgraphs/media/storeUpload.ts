import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Db, ObjectId } from 'mongodb';
import type { GraphQLError } from 'graphql';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import {
  dropUploadMarker,
  openUploadFile,
  removeUploadFile,
} from '../../lib/stores/uploadFiles.js';
import { UploadInspector } from './UploadInspector.js';

export interface StoredFile {
  fileId: ObjectId;
  bytes: number;
  sha256: string;
  contentType: string;
}

/**
 * Streams an upload into GridFS while sniffing its first bytes, counting and hashing, and
 * enforcing `maxBytes`. Nothing is held whole in memory. On any failure (not media, too big,
 * client gone) the partial file is removed before the error is rethrown, so a failed upload
 * leaves no chunk behind; when the database itself is down, the janitor removes them later.
 */
export async function storeUpload(
  db: Db,
  source: Readable,
  options: {
    /** The new file's id, which is also the video's. */
    fileId: ObjectId;
    filename: string;
    ownerId: string;
    maxBytes: number;
    /** The error for a file over `maxBytes`, when that is not the plain size limit (a quota). */
    overLimit?: () => GraphQLError;
    /**
     * Called once the first bytes are known to be media and `acceptedAfterBytes` have arrived,
     * while the rest still streams; never for an upload that ends before that.
     */
    onAccepted?: () => void;
    /** @default 0 */
    acceptedAfterBytes?: number;
    /**
     * Called when an accepted upload fails, before its chunks are removed. If it throws, the
     * marker stays (dated to the epoch) and the janitor sends `video.deleted` for it.
     */
    onFailedAfterAccepted?: () => Promise<void>;
  },
): Promise<StoredFile> {
  const { fileId } = options;
  const overLimit = options.overLimit ?? (() => tooLarge(options.maxBytes));
  const hash = createHash('sha256');
  const inspector = new UploadInspector({
    maxBytes: options.maxBytes,
    overLimit,
    onAccepted: options.onAccepted,
    acceptedAfterBytes: options.acceptedAfterBytes ?? 0,
    hash,
  });
  const upload = await openUploadFile(db, fileId, options.filename, options.ownerId);
  // busboy only truncates an over-limit file and signals `limit`: make it fail.
  const onLimit = () => source.destroy(overLimit());
  source.once('limit', onLimit);
  try {
    await pipeline(source, inspector, upload);
  } catch (error) {
    // A chunk still being written would land after the removal below.
    await upload.settled();
    // Best effort: with the database down this fails too, and the janitor removes the chunks
    // once the upload time limit has passed. The client hears about the upload, not the cleanup.
    const told =
      !inspector.sniffed ||
      (await options.onFailedAfterAccepted?.().then(
        () => true,
        () => false,
      )) !== false;
    await removeUploadFile(db, fileId, {
      keepMarker: !told,
      owner: options.ownerId,
    }).catch(() => undefined);
    throw inspector.failure ?? translate(error, overLimit);
  } finally {
    source.off('limit', onLimit);
  }
  if (!inspector.sniffed) {
    await removeUploadFile(db, fileId);
    throw graphqlError(ErrorCode.UNSUPPORTED_MEDIA, 'The file is empty');
  }
  // Best effort too: a marker left behind is dropped by the janitor, which finds the file whole.
  await dropUploadMarker(db, fileId).catch(() => undefined);
  return {
    fileId,
    bytes: inspector.bytes,
    sha256: hash.digest('hex'),
    contentType: inspector.sniffed.contentType,
  };
}

function tooLarge(maxBytes: number) {
  return graphqlError(
    ErrorCode.PAYLOAD_TOO_LARGE,
    `The file is larger than the ${maxBytes}-byte limit`,
  );
}

export function translate(error: unknown, overLimit: () => GraphQLError): unknown {
  if (error instanceof Error && 'extensions' in error) return error;
  if (error instanceof Error && /limit/i.test(error.message)) return overLimit();
  if (
    error instanceof Error &&
    /Unexpected end of (form|file)|Malformed|aborted|ECONNRESET|premature/i.test(error.message)
  ) {
    return graphqlError(ErrorCode.BAD_REQUEST, 'The upload was interrupted before the file ended');
  }
  return error;
}
