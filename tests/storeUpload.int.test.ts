import { Readable } from 'node:stream';
import { ObjectId } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { UPLOADS_IN_PROGRESS, VIDEO_BUCKET } from '../lib/stores/gridfs.js';
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
});
