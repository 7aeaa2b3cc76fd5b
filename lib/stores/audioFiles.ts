import { Binary, type Db, type ObjectId } from 'mongodb';
import type { ChapterMark, LoudnessReport } from '../contracts/audioReport.js';
import {
  AUDIO_BUCKET,
  GRIDFS_CHUNK_SIZE,
  ensureGridFsIndexes,
  removeGridFsFile,
} from './gridfs.js';

/**
 * The MP3 files (GridFS bucket `audio`): workers write them, chunk by chunk as ffmpeg makes
 * them; media serves them and removes them with their video.
 */

/** What a worker writes into `audio.files` metadata beside the MP3. */
export interface AudioMetadata {
  owner: string;
  videoId: string;
  conversionId: string;
  durationSeconds: number;
  bitrateKbps: number;
  sha256: string;
  /** Written into the MP3 as ID3 CHAP frames with a CTOC; absent on MP3s made before. */
  chapters?: ChapterMark[];
  /** Present when loudness normalization was asked and measured. */
  loudness?: LoudnessReport;
}

/** An MP3's file document, as media reads it. */
export interface AudioFile {
  _id: ObjectId;
  length: number;
  metadata: AudioMetadata;
}

/**
 * Each run of a conversion stores its MP3 under a file id of its own, so a run that lost its
 * conversion (frozen, then taken over) can never write into, or remove, the MP3 of the run that
 * owns it; the conversion record names the one that counts (`audioId`, once SUCCEEDED). Every
 * chunk also carries its `conversionId`, so what runs killed mid-way left can be found and
 * removed without a file document.
 */
export interface Mp3Chunk {
  files_id: ObjectId;
  n: number;
  data: Binary;
  conversionId: string;
}

const audioFiles = (db: Db) => db.collection<AudioFile>(`${AUDIO_BUCKET}.files`);
const mp3Chunks = (db: Db) => db.collection<Mp3Chunk>(`${AUDIO_BUCKET}.chunks`);

/**
 * The indexes `removeMp3sOf` uses, beside the GridFS ones. Workers store MP3s chunk by chunk,
 * not through the driver's upload stream, which would make GridFS's indexes.
 */
export async function ensureMp3Indexes(db: Db): Promise<void> {
  await ensureGridFsIndexes(db, AUDIO_BUCKET);
  await mp3Chunks(db).createIndex({ conversionId: 1 }, { name: 'by_conversion' });
  await audioFiles(db).createIndex({ 'metadata.conversionId': 1 }, { name: 'by_conversion' });
}

/** The indexes media's reads of MP3s use: by owner's id lookups, and by video for removal. */
export async function ensureMp3ServingIndexes(db: Db): Promise<void> {
  await ensureGridFsIndexes(db, AUDIO_BUCKET);
  await audioFiles(db).createIndex({ 'metadata.videoId': 1 }, { name: 'by_video' });
}

/** Removes every MP3 of a conversion, whole or in part, but the file `keep` (its SUCCEEDED one). */
export async function removeMp3sOf(db: Db, conversionId: ObjectId, keep?: ObjectId): Promise<void> {
  const id = conversionId.toHexString();
  const notKept = keep ? { $ne: keep } : { $exists: true };
  await audioFiles(db).deleteMany({ 'metadata.conversionId': id, _id: notKept });
  await mp3Chunks(db).deleteMany({ conversionId: id, files_id: notKept });
}

/** Removes every MP3 made of a video (each whole one: a partial one is its worker's to remove). */
export async function removeMp3sOfVideo(db: Db, videoId: ObjectId): Promise<void> {
  const mp3s = await audioFiles(db)
    .find({ 'metadata.videoId': videoId.toHexString() })
    .project<{ _id: ObjectId }>({ _id: 1 })
    .toArray();
  for (const { _id } of mp3s) await removeGridFsFile(db, AUDIO_BUCKET, _id);
}

/** The owner's MP3, or null: one that is not theirs looks like one that does not exist. */
export function findMp3Owned(db: Db, id: ObjectId, owner: string): Promise<AudioFile | null> {
  return audioFiles(db).findOne({ _id: id, 'metadata.owner': owner });
}

/** Where one run writes its MP3 (see Mp3Chunk): chunk by chunk, then the file document. */
export interface Mp3Writer {
  storeChunk(n: number, data: Buffer): Promise<void>;
  /** Writes the file document, which makes the MP3 readable: after its every chunk. */
  makeWhole(file: { length: number; filename: string; metadata: AudioMetadata }): Promise<void>;
  /** Removes what was stored, whole or in part. */
  discard(): Promise<void>;
}

export function createMp3Writer(db: Db, id: ObjectId, conversionId: string): Mp3Writer {
  return {
    async storeChunk(n, data) {
      await mp3Chunks(db).insertOne({ files_id: id, n, data: new Binary(data), conversionId });
    },
    async makeWhole({ length, filename, metadata }) {
      await db.collection(`${AUDIO_BUCKET}.files`).insertOne({
        _id: id,
        length,
        chunkSize: GRIDFS_CHUNK_SIZE,
        uploadDate: new Date(),
        filename,
        metadata,
      });
    },
    discard: () => removeGridFsFile(db, AUDIO_BUCKET, id),
  };
}
