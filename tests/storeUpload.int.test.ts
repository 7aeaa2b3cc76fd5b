import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { followVideoUpload } from '../lib/stores/followUpload.js';
import {
  GRIDFS_CHUNK_SIZE,
  UPLOADS_IN_PROGRESS,
  VIDEO_BUCKET,
  readGridFsFile,
} from '../lib/stores/gridfs.js';
import { ensureUploadIndexes } from '../lib/stores/uploadFiles.js';
import { storeUpload } from '../subgraphs/media/storeUpload.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';

describe('storeUpload (real database)', () => {
  const db = useTestDatabases('store-upload').database('media');
  const mp4Head = Buffer.from(
    '000000206674797069736f6d0000020069736f6d69736f32617663316d703431',
    'hex',
  );

  it('leaves no chunk behind when the client is cut off while a chunk is being written', async () => {
    // Once the stream is open, one write of 8 MB sends some thirty chunk inserts at once; the
    // source fails right after it, while they are still on their way to the database.
    // Connections already open, as in a busy server, so the removal need not queue behind them.
    const warm = db.collection('warm');
    await Promise.all(Array.from({ length: 60 }, () => warm.findOne({})));
    const ids: ObjectId[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const fileId = new ObjectId();
      ids.push(fileId);
      const source = Readable.from(
        (async function* () {
          yield Buffer.concat([mp4Head, Buffer.alloc(300_000)]);
          await new Promise((resolve) => setTimeout(resolve, 200));
          yield Buffer.alloc(8_000_000);
          await new Promise((resolve) => setTimeout(resolve, 2));
          throw new Error('aborted');
        })(),
      );
      const stored = storeUpload(db, source, {
        fileId,
        filename: 'cut.mp4',
        ownerId: 'someone',
        maxBytes: 10_000_000,
      });
      await expect(stored).rejects.toMatchObject({ extensions: { code: 'BAD_REQUEST' } });
    }
    // Anything still arriving would land within moments of the rejection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const chunks = db.collection(`${VIDEO_BUCKET}.chunks`);
    expect(await chunks.countDocuments({ files_id: { $in: ids } })).toBe(0);
    expect(await db.collection(UPLOADS_IN_PROGRESS).countDocuments({ _id: { $in: ids } })).toBe(0);
  });

  it(
    'writes chunks several at a time; what it stored and what a follower read are the bytes sent',
    { timeout: 240_000 },
    async () => {
      // Media makes sure of these at start (the driver's own GridFS stream made them itself).
      await ensureUploadIndexes(db);
      // 100 MB in uneven pieces, as a network delivers them, so chunks straddle the pieces.
      const fileId = new ObjectId();
      const sent = createHash('sha256');
      let bytes = 0;
      const source = Readable.from(
        (function* () {
          sent.update(mp4Head);
          yield mp4Head;
          for (let size = 1; bytes < 100 * 2 ** 20; size = (size * 7919) % 300_000) {
            const piece = randomBytes(size + 1);
            bytes += piece.length;
            sent.update(piece);
            yield piece;
          }
        })(),
      );
      const digest = (stream: Readable) =>
        new Promise<string>((resolve, reject) => {
          const hash = createHash('sha256');
          stream.on('data', (chunk: Buffer) => hash.update(chunk));
          stream.once('end', () => resolve(hash.digest('hex')));
          stream.once('error', reject);
        });
      // A worker following the upload as it lands, from when it hears of it (chunk n may land
      // after chunk n + 1).
      let followed: Promise<string> | undefined;
      const stored = await storeUpload(db, source, {
        fileId,
        filename: 'big.mp4',
        ownerId: 'someone',
        maxBytes: 300 * 2 ** 20,
        onAccepted: () => {
          followed = digest(followVideoUpload(db, fileId, { staleAfterMs: 60_000 }));
        },
      });
      expect(stored.bytes).toBe(bytes + mp4Head.length);
      expect(stored.sha256).toBe(sent.digest('hex'));
      expect(await followed).toBe(stored.sha256);

      const file = await db
        .collection<{ _id: ObjectId; length: number; chunkSize: number }>(`${VIDEO_BUCKET}.files`)
        .findOne({ _id: fileId });
      expect(file).toMatchObject({ length: stored.bytes, chunkSize: GRIDFS_CHUNK_SIZE });
      const chunks = await db
        .collection<{ n: number }>(`${VIDEO_BUCKET}.chunks`)
        .find({ files_id: fileId }, { projection: { n: 1 } })
        .toArray();
      const count = Math.ceil(stored.bytes / GRIDFS_CHUNK_SIZE);
      expect(chunks.map((c) => c.n).sort((a, b) => a - b)).toEqual(
        Array.from({ length: count }, (_, n) => n),
      );
      expect(await digest(readGridFsFile(db, VIDEO_BUCKET, file!))).toBe(stored.sha256);
    },
  );
});
