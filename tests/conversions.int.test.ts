import { ObjectId } from 'mongodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { openConversions, type Conversions } from '../lib/stores/conversions.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';

/** The conversion records against the real database: what the lifecycle's reads return. */
describe('conversions store (real database)', () => {
  const databases = useTestDatabases('records');
  let conversions: Conversions;

  beforeAll(async () => {
    conversions = await openConversions(databases.database('conversion'));
  });

  it('pages a video’s conversions newest first by when they were queued, whatever their ids', async () => {
    const videoId = new ObjectId().toHexString();
    const owner = new ObjectId().toHexString();
    // Ids made in one second by two processes sort by their random part, not by time: here the
    // newest conversion gets the smallest id.
    const ids = [
      '6b10de33ffffffffffffff03',
      '6b10de33ffffffffffffff02',
      '6b10de3300000000000000aa',
    ];
    for (const id of ids) {
      await conversions.create({
        id: new ObjectId(id),
        videoId,
        owner,
        filename: 'clip.mp4',
        options: {},
      });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const newestFirst = [...ids].reverse();

    const all = await conversions.pageForVideo(videoId, owner, 10);
    expect(all.records.map((r) => r._id.toHexString())).toEqual(newestFirst);
    expect(all.hasNextPage).toBe(false);

    const seen: string[] = [];
    let after: string | undefined;
    for (let page = 0; page < 3; page++) {
      const one = await conversions.pageForVideo(videoId, owner, 1, after);
      const [record] = one.records;
      if (!record) throw new Error(`page ${page} is empty`);
      seen.push(record._id.toHexString());
      expect(one.hasNextPage).toBe(page < 2);
      after = conversions.cursor(record);
    }
    expect(seen).toEqual(newestFirst);
    expect((await conversions.pageForVideo(videoId, owner, 1, after)).records).toEqual([]);
    expect(
      (await conversions.pageForVideo(videoId, new ObjectId().toHexString(), 10)).records,
    ).toEqual([]);
  });

  it('refuses a cursor it did not make as BAD_USER_INPUT on after, rather than start over', async () => {
    const videoId = new ObjectId().toHexString();
    const owner = new ObjectId().toHexString();
    for (const after of ['', 'page-2', new ObjectId().toHexString(), 'zz.not-an-id']) {
      await expect(conversions.pageForVideo(videoId, owner, 10, after)).rejects.toMatchObject({
        extensions: { code: 'BAD_USER_INPUT', field: 'after' },
      });
    }
  });

  it('makes a conversion once: a second create with its id returns the first', async () => {
    const id = new ObjectId();
    const fields = { id, videoId: id.toHexString(), owner: 'o', filename: 'a.mp4', options: {} };
    const first = await conversions.create(fields);
    const again = await conversions.create({ ...fields, filename: 'b.mp4' });
    expect(again.filename).toBe('a.mp4');
    expect(again.queuedAt).toEqual(first.queuedAt);
    expect((await conversions.runOf(id))?.status).toBe('QUEUED');
  });
});
