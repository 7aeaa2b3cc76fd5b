import { Writable } from 'node:stream';
import { Binary, MongoServerError, type Collection, type Db, type ObjectId } from 'mongodb';
import type { IHasher } from 'hash-wasm';
import { GRIDFS_CHUNK_SIZE, VIDEO_BUCKET } from './gridfs.js';

interface ChunkDocument {
  files_id: ObjectId;
  n: number;
  data: Binary;
}

/**
 * Media's side of a resumable upload's file, beside uploadFiles.ts: writes one request's bytes of a resumable upload into the video bucket as GridFS chunks,
 * continuing the file where the earlier requests left it: the bytes past the last whole chunk
 * (`tail`) come first, and only whole chunks are written, in order, so a worker following the
 * file never reads a partial one. It hashes what it keeps, so that `offset`, `tail` and the
 * hash state always describe the same bytes, whenever the request ends: a chunk already
 * written past the saved offset (a request cut between a chunk and its checkpoint) is written
 * again with the same bytes by the next one.
 */
export class ResumableChunkWriter extends Writable {
  private readonly chunks: Collection<ChunkDocument>;
  private n: number;
  private tail: Buffer;
  private inFlight: Promise<void> = Promise.resolve();

  constructor(
    db: Db,
    private readonly fileId: ObjectId,
    start: { offset: number; tail: Buffer },
    private readonly hasher: IHasher,
  ) {
    super();
    this.chunks = db.collection<ChunkDocument>(`${VIDEO_BUCKET}.chunks`);
    this.n = Math.floor((start.offset - start.tail.length) / GRIDFS_CHUNK_SIZE);
    this.tail = start.tail;
  }

  /** Bytes kept: whole chunks written, then the tail. */
  get offset(): number {
    return this.n * GRIDFS_CHUNK_SIZE + this.tail.length;
  }

  get pending(): Buffer {
    return this.tail;
  }

  /** The hash state after `offset` bytes. */
  hashState(): Uint8Array {
    return this.hasher.save();
  }

  /** Resolves once no chunk is being written; it never rejects. */
  settled(): Promise<void> {
    return this.inFlight;
  }

  override _write(piece: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void) {
    this.hasher.update(piece);
    this.tail = this.tail.length === 0 ? piece : Buffer.concat([this.tail, piece]);
    // Between two awaits `n`, `tail` and the hash agree: a checkpoint may read them any time.
    const work = this.writeWholeChunks();
    this.inFlight = work.then(
      () => undefined,
      () => undefined,
    );
    work.then(() => done(), done);
  }

  /**
   * Writes the last, partial chunk: the upload is whole. Called once the request's bytes are
   * all written and the offset is the upload's length.
   */
  async finish(): Promise<void> {
    if (this.tail.length > 0) await this.put(this.n, this.tail);
  }

  private async writeWholeChunks(): Promise<void> {
    if (this.tail.length < GRIDFS_CHUNK_SIZE) return;
    while (this.tail.length >= GRIDFS_CHUNK_SIZE) {
      await this.put(this.n, this.tail.subarray(0, GRIDFS_CHUNK_SIZE));
      this.n++;
      this.tail = this.tail.subarray(GRIDFS_CHUNK_SIZE);
    }
    // A view would keep the whole buffer it was cut from alive.
    this.tail = Buffer.from(this.tail);
  }

  /** Inserts chunk `n`, or rewrites it where a request cut before its checkpoint left it. */
  private async put(n: number, data: Buffer): Promise<void> {
    const chunk = () => ({ files_id: this.fileId, n, data: new Binary(data) });
    try {
      await this.chunks.insertOne(chunk());
    } catch (error) {
      if (!(error instanceof MongoServerError && error.code === 11000)) throw error;
      await this.chunks.replaceOne({ files_id: this.fileId, n }, chunk());
    }
  }
}
