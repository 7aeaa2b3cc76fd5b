import { BrokerUnavailableError, type Broker } from '../../lib/broker/createBroker.js';
import { ErrorCode, graphqlError } from '../../lib/contracts/errors.js';
import type { Mp3Options } from '../../lib/contracts/mp3Options.js';
import type { Logger } from '../../lib/platform/logger.js';
import type { ReservationKey, StorageQuota } from '../../lib/stores/storageQuota.js';
import type { VideoRecord, VideoStore } from './createVideoStore.js';
import type { StoredFile } from './storeUpload.js';
import { withdrawVideo } from './withdrawVideo.js';

/** What an upload is, for its events: the same for a multipart and a resumable upload. */
export interface UploadFacts {
  videoId: string;
  owner: string;
  filename: string;
  mp3: Mp3Options;
}

/**
 * The realtime announcement of an upload still streaming (`video.uploading`), and its
 * withdrawal (`video.deleted`) when the upload then fails. A lost announcement costs only
 * realtime: the conversion then starts on video.uploaded.
 */
export interface UploadAnnouncer {
  /** Publishes video.uploading, once; its failure is logged, not thrown. */
  uploading(): Promise<void>;
  /** Whether video.uploading may have reached the queue (even unconfirmed). */
  readonly started: boolean;
  /** Publishes video.deleted for an upload whose video.uploading may have gone out. */
  withdraw(): Promise<void>;
}

export function createUploadAnnouncer(
  broker: Broker,
  log: Logger,
  upload: UploadFacts,
): UploadAnnouncer {
  let sent: Promise<void> | undefined;
  return {
    uploading() {
      sent ??= broker
        .publishEvent({
          type: 'video.uploading',
          version: 1,
          ownerId: upload.owner,
          ...pick(upload),
        })
        .catch((error: unknown) =>
          log.warn({ err: error, videoId: upload.videoId }, 'video.uploading not published'),
        );
      return sent;
    },
    get started() {
      return sent !== undefined;
    },
    async withdraw() {
      if (sent === undefined) return;
      await sent;
      await broker.publishEvent({
        type: 'video.deleted',
        version: 1,
        videoId: upload.videoId,
        ownerId: upload.owner,
      });
    },
  };
}

const pick = (upload: UploadFacts) => ({
  videoId: upload.videoId,
  filename: upload.filename,
  mp3: upload.mp3,
});

/**
 * Makes a stored upload a video: writes its record, gives back the room its upload held (the
 * record counts its bytes now, so the MP3 made of it can hold what it needs), announces
 * `video.uploaded` and marks it announced. On any failure the client is told the upload
 * failed, so nothing of it may stay: no event, no video; what cannot be removed now (database
 * down) the janitor removes later. Both upload paths end here.
 */
export async function recordUpload(
  deps: { store: VideoStore; broker: Broker; quota: StorageQuota },
  log: Logger,
  upload: UploadFacts & {
    stored: StoredFile;
    /** The room the upload held while it streamed. */
    reservation: ReservationKey;
    /** Whether video.uploading may have gone out (then video.deleted must follow a failure). */
    uploadingSent: boolean;
  },
): Promise<VideoRecord> {
  const { broker, store } = deps;
  const { owner, filename, mp3, stored } = upload;
  const record: VideoRecord = {
    _id: stored.fileId,
    owner,
    filename,
    contentType: stored.contentType,
    bytes: stored.bytes,
    sha256: stored.sha256,
    uploadedAt: new Date(),
    mp3,
    announced: false,
  };
  let announced = false;
  try {
    await store.insert(record);
    await deps.quota.release(upload.reservation);
    await broker.publishEvent({
      type: 'video.uploaded',
      version: 1,
      videoId: record._id.toHexString(),
      ownerId: owner,
      filename,
      bytes: record.bytes,
      mp3,
    });
    announced = true;
    await store.markAnnounced(record._id);
  } catch (error) {
    await withdrawVideo(deps, record, announced || upload.uploadingSent).catch((cleanup: unknown) =>
      log.warn({ err: cleanup, videoId: record._id.toHexString() }, 'left to the janitor'),
    );
    if (error instanceof BrokerUnavailableError) {
      throw graphqlError(
        ErrorCode.SERVICE_UNAVAILABLE,
        'The upload could not be queued; try again shortly',
      );
    }
    throw error;
  }
  log.info({ videoId: record._id.toHexString(), bytes: record.bytes }, 'video uploaded');
  return record;
}
