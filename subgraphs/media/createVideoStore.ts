import type { Readable } from 'node:stream';
import { ObjectId, type Db } from 'mongodb';
import type { Mp3Options } from '../../lib/contracts/mp3Options.js';
import {
  ensureMp3ServingIndexes,
  findMp3Owned,
  removeMp3sOfVideo,
  type AudioFile,
} from '../../lib/stores/audioFiles.js';
import { readGridFsFile } from '../../lib/stores/gridfs.js';
import {
  ensureUploadIndexes,
  markUploadRemoval,
  removeUploadFile,
} from '../../lib/stores/uploadFiles.js';

export interface VideoRecord {
  /** The same id as the video's GridFS file. */
  _id: ObjectId;
  owner: string;
  filename: string;
  contentType: string;
  bytes: number;
  sha256: string;
  uploadedAt: Date;
  mp3: Mp3Options;
  /**
   * False until video.uploaded is confirmed. A record left false (the process or the database
   * failed in between, and the client was not told it succeeded) is removed by the janitor.
   */
  announced: boolean;
}

export interface VideoPage {
  videos: VideoRecord[];
  hasNextPage: boolean;
}

/** A GridFS file as downloads need it. */
export interface StoredFile {
  _id: ObjectId;
  length: number;
  chunkSize: number;
  metadata?: { owner?: string; sha256?: string; videoId?: string };
}

/** What media keeps: video records, their files, and the MP3s made of them. */
export interface VideoStore {
  insert(record: VideoRecord): Promise<void>;
  markAnnounced(id: ObjectId): Promise<void>;
  /** Records whose upload was never announced, stored before `before`. */
  unannounced(before: Date): Promise<VideoRecord[]>;
  findOwned(id: string, owner: string): Promise<VideoRecord | null>;
  /** Newest first; `after` is the id of the last video of the previous page. */
  page(owner: string, first: number, after: string | undefined): Promise<VideoPage>;
  findAudioOwned(id: string, owner: string): Promise<AudioFile | null>;
  findFile(bucket: string, id: string): Promise<StoredFile | null>;
  openDownload(bucket: string, file: StoredFile, range?: { start: number; end: number }): Readable;
  /**
   * Removes a video's MP3s, its file and its record; safe to repeat. `announceLater`: its
   * video.deleted could not be sent, so the janitor sends it (the removal's marker stays).
   */
  remove(record: VideoRecord, options?: { announceLater?: boolean }): Promise<void>;
}

/**
 * Video records and the GridFS files behind them. Every read takes the caller's id: a video
 * that is not theirs is indistinguishable from one that does not exist.
 */
export async function createVideoStore(db: Db): Promise<VideoStore> {
  const videos = db.collection<VideoRecord>('videos');
  await ensureUploadIndexes(db);
  await ensureMp3ServingIndexes(db);
  await videos.createIndex({ owner: 1, _id: -1 }, { name: 'owner_newest_first' });
  await videos.createIndex({ announced: 1, uploadedAt: 1 }, { name: 'by_announced_age' });
  const toId = (id: string) =>
    ObjectId.isValid(id) && /^[0-9a-f]{24}$/i.test(id) ? new ObjectId(id) : null;

  return {
    async insert(record: VideoRecord): Promise<void> {
      await videos.insertOne(record);
    },

    async markAnnounced(id: ObjectId): Promise<void> {
      await videos.updateOne({ _id: id }, { $set: { announced: true } });
    },

    /** Records whose upload was never announced, stored before `before`. */
    unannounced: (before: Date) =>
      videos
        .find({ announced: false, uploadedAt: { $lt: before } })
        .limit(100)
        .toArray(),

    async findOwned(id: string, owner: string): Promise<VideoRecord | null> {
      const _id = toId(id);
      return _id ? videos.findOne({ _id, owner, announced: true }) : null;
    },

    /** Newest first; `after` is the id of the last video of the previous page. */
    async page(owner: string, first: number, after: string | undefined): Promise<VideoPage> {
      const cursor = after === undefined ? undefined : toId(after);
      const found = await videos
        .find({
          owner,
          announced: true,
          ...(cursor ? { _id: { $lt: cursor } } : {}),
        })
        .sort({ _id: -1 })
        .limit(first + 1)
        .toArray();
      return { videos: found.slice(0, first), hasNextPage: found.length > first };
    },

    async findAudioOwned(id: string, owner: string): Promise<AudioFile | null> {
      const _id = toId(id);
      return _id ? findMp3Owned(db, _id, owner) : null;
    },

    async findFile(bucket: string, id: string): Promise<StoredFile | null> {
      const _id = toId(id);
      return _id
        ? db
            .collection<{ _id: ObjectId; length: number; chunkSize: number }>(`${bucket}.files`)
            .findOne({ _id })
        : null;
    },

    openDownload(bucket, file, range) {
      return readGridFsFile(db, bucket, file, range);
    },

    /** Removes a video's MP3s, its file and its record; safe to repeat. */
    async remove(record, options = {}) {
      // Marked before the MP3s go: a worker that makes an MP3 whole after the mark finds the
      // video gone and removes that MP3 itself; one made whole before is removed here.
      await markUploadRemoval(db, record._id, record.owner);
      await removeMp3sOfVideo(db, record._id);
      await removeUploadFile(db, record._id, {
        keepMarker: options.announceLater === true,
        owner: record.owner,
      });
      await videos.deleteOne({ _id: record._id });
    },
  };
}
