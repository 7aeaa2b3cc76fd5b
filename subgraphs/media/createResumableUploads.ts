import { randomUUID } from 'node:crypto';
import { Binary, ObjectId, type Db } from 'mongodb';
import type { Mp3Options } from '../../lib/contracts/mp3Options.js';
import type { SniffResult } from './sniffContainer.js';

/**
 * A tus upload between its creation and its last byte, in media's database so that any media
 * replica can take its next request. Its bytes go straight into the video bucket's chunks
 * under its id (which becomes the video's): only whole chunks, in order, so a worker following
 * it reads exactly what a multipart upload would give; the bytes past the last whole chunk
 * wait here (`tail`) until the next request completes that chunk.
 */
export interface ResumableUpload {
  _id: ObjectId;
  owner: string;
  /** Upload-Length: fixed at creation, within the size limit and the owner's room. */
  length: number;
  /** Bytes received and kept: whole chunks in the bucket, then `tail`. */
  offset: number;
  tail: Binary;
  /** The SHA-256 state after `offset` bytes (hash-wasm's saved state). */
  hashState: Binary;
  /** Set once the first bytes were sniffed as media. */
  sniffed?: SniffResult;
  /** video.uploading went out (realtime conversion may have begun). */
  uploadingSent: boolean;
  /** The last byte is in and the video recorded; kept until expiry so HEAD still answers. */
  completed: boolean;
  filename: string;
  mp3: Mp3Options;
  /** Upload-Metadata as sent, echoed to HEAD. */
  metadata: string;
  createdAt: Date;
  expiresAt: Date;
  /** Who takes bytes now: one request on one replica; free once `leaseUntil` has passed. */
  leaseHolder: string;
  leaseUntil: Date;
}

/** How long a request holds an upload without renewing (a replica that died frees it then). */
export const LEASE_MS = 15_000;

/** Why a request could not take an upload's next bytes. */
export type ClaimRefusal = 'missing' | 'expired' | 'offset' | 'locked' | 'completed';

/** The state a request saves as it goes, and at its end. */
export interface Checkpoint {
  offset: number;
  tail: Buffer;
  hashState: Uint8Array;
  sniffed: SniffResult | undefined;
}

export interface ResumableUploads {
  create(upload: Omit<ResumableUpload, 'leaseHolder' | 'leaseUntil'>): Promise<void>;
  /** The owner's upload, or null: another user's upload does not exist for them. */
  findOwned(id: string, owner: string): Promise<ResumableUpload | null>;
  /**
   * Takes the upload for one request at `offset`, across replicas: a conditional update, so of
   * two requests at once exactly one wins. Returns the lease's holder, or why not.
   */
  claim(
    id: ObjectId,
    owner: string,
    offset: number,
  ): Promise<
    { holder: string; upload: ResumableUpload } | { refused: ClaimRefusal; length?: number }
  >;
  /** Saves progress and renews the lease; false if the lease was lost (expired and taken). */
  checkpoint(id: ObjectId, holder: string, state: Checkpoint): Promise<boolean>;
  markUploadingSent(id: ObjectId): Promise<void>;
  /** The upload became a video: HEAD answers its whole length until it expires. */
  markCompleted(id: ObjectId): Promise<void>;
  release(id: ObjectId, holder: string): Promise<void>;
  remove(id: ObjectId): Promise<void>;
  /** Unfinished uploads past their expiry and not taking bytes now: the janitor's. */
  expired(now: Date): Promise<ResumableUpload[]>;
}

export const RESUMABLE_UPLOADS = 'resumable_uploads';

export async function createResumableUploads(db: Db): Promise<ResumableUploads> {
  const uploads = db.collection<ResumableUpload>(RESUMABLE_UPLOADS);
  await uploads.createIndex({ expiresAt: 1 }, { name: 'by_expiry' });
  const toId = (id: string) => (/^[0-9a-f]{24}$/.test(id) ? new ObjectId(id) : null);

  return {
    async create(upload) {
      await uploads.insertOne({ ...upload, leaseHolder: '', leaseUntil: new Date(0) });
    },

    async findOwned(id, owner) {
      const _id = toId(id);
      return _id ? uploads.findOne({ _id, owner }) : null;
    },

    async claim(id, owner, offset) {
      const holder = randomUUID();
      const now = new Date();
      const claimed = await uploads.findOneAndUpdate(
        {
          _id: id,
          owner,
          offset,
          completed: false,
          expiresAt: { $gt: now },
          leaseUntil: { $lt: now },
        },
        { $set: { leaseHolder: holder, leaseUntil: new Date(now.getTime() + LEASE_MS) } },
        { returnDocument: 'after' },
      );
      if (claimed) return { holder, upload: claimed };
      // Why not, read after the fact: good enough to name the refusal, never to grant.
      const found = await uploads.findOne({ _id: id, owner }, { projection: { tail: 0 } });
      if (!found) return { refused: 'missing' };
      if (found.completed) return { refused: 'completed', length: found.length };
      if (found.expiresAt <= now) return { refused: 'expired' };
      if (found.offset !== offset) return { refused: 'offset' };
      return { refused: 'locked' };
    },

    async checkpoint(id, holder, state) {
      const { matchedCount } = await uploads.updateOne(
        { _id: id, leaseHolder: holder },
        {
          $set: {
            offset: state.offset,
            tail: new Binary(state.tail),
            hashState: new Binary(state.hashState),
            leaseUntil: new Date(Date.now() + LEASE_MS),
            ...(state.sniffed ? { sniffed: state.sniffed } : {}),
          },
          // A request taken back (a checksum mismatch) may have been the one that sniffed: the
          // next one's bytes are then sniffed again.
          ...(state.sniffed ? {} : { $unset: { sniffed: '' } }),
        },
      );
      return matchedCount === 1;
    },

    async markUploadingSent(id) {
      await uploads.updateOne({ _id: id }, { $set: { uploadingSent: true } });
    },

    async markCompleted(id) {
      await uploads.updateOne(
        { _id: id },
        {
          $set: {
            completed: true,
            tail: new Binary(Buffer.alloc(0)),
            leaseHolder: '',
            leaseUntil: new Date(0),
          },
        },
      );
    },

    async release(id, holder) {
      await uploads.updateOne(
        { _id: id, leaseHolder: holder },
        { $set: { leaseHolder: '', leaseUntil: new Date(0) } },
      );
    },

    async remove(id) {
      await uploads.deleteOne({ _id: id });
    },

    expired: (now) =>
      uploads
        .find({ expiresAt: { $lt: now }, leaseUntil: { $lt: now } })
        .limit(100)
        .toArray(),
  };
}
