import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createRateWindows, type RateWindows } from '../lib/stores/createRateWindows.js';
import { uniqueName } from './helpers/uniqueName.js';

describe('rate windows against the real database', () => {
  const infra = inject('infra');
  const dbName = uniqueName('rates');
  let mongo: MongoClient;
  let windows: RateWindows;

  beforeAll(async () => {
    mongo = new MongoClient(infra.mongodbUri);
    windows = createRateWindows(mongo.db(dbName));
  });
  afterAll(async () => {
    await mongo.db(dbName).dropDatabase();
    await mongo.close();
  });

  it('lets exactly `max` of many concurrent takes through, the first of a window included', async () => {
    const budget = { max: 7, windowSeconds: 60 };
    const waits = await Promise.all(
      Array.from({ length: 50 }, () => windows.take('burst', budget)),
    );
    expect(waits.filter((wait) => wait === 0)).toHaveLength(7);
    for (const wait of waits.filter((w) => w > 0)) {
      expect(wait).toBeGreaterThan(0);
      expect(wait).toBeLessThanOrEqual(60);
    }
  });

  it('gives a unit back, and opens a new window once the old one has passed', async () => {
    const budget = { max: 2, windowSeconds: 5 };
    expect(await windows.take('slow', budget)).toBe(0);
    expect(await windows.take('slow', budget)).toBe(0);
    expect(await windows.take('slow', budget)).toBeGreaterThan(0);
    await windows.giveBack('slow');
    expect(await windows.take('slow', budget)).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5_100));
    expect(await windows.take('slow', budget)).toBe(0);
  });
});
