import { describe, expect, it } from 'vitest';
import { createEndpointStore } from '../subgraphs/notification/createEndpointStore.js';
import { useTestDatabases } from './helpers/useTestDatabases.js';

const SECRET = 'whsec_' + Buffer.alloc(32, 1).toString('base64');

/** The endpoints-per-user limit on the real database, under adds that race. */
describe('webhook endpoint store (real database)', () => {
  const db = useTestDatabases('endpoint-store').database('notification');

  it('lets twelve adds at the same instant store exactly the limit, and frees a place on removal', async () => {
    const endpoints = await createEndpointStore(db);
    const add = (n: number) =>
      endpoints.add(
        { owner: 'racer', url: `https://hooks.example/${n}`, events: ['conversion.succeeded'] },
        SECRET,
        3,
      );
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, n) => add(n)));
    const codes = results.map((result) =>
      result.status === 'fulfilled'
        ? 'stored'
        : (result.reason as { extensions?: { code?: string } }).extensions?.code,
    );
    expect(codes.filter((code) => code === 'stored')).toHaveLength(3);
    expect(codes.filter((code) => code === 'QUOTA_EXCEEDED')).toHaveLength(9);
    const stored = await endpoints.listOwned('racer');
    expect(stored.map((endpoint) => endpoint.slot).sort()).toEqual([0, 1, 2]);

    // Another owner's places are their own.
    await endpoints.add(
      { owner: 'other', url: 'https://hooks.example/o', events: ['conversion.succeeded'] },
      SECRET,
      3,
    );
    const removed = await endpoints.remove(stored[1]!._id.toHexString(), 'racer');
    expect(removed?.slot).toBe(stored[1]!.slot);
    const again = await add(99);
    expect(again.slot).toBe(stored[1]!.slot);
    await expect(add(100)).rejects.toMatchObject({ extensions: { code: 'QUOTA_EXCEEDED' } });
  });
});

describe('webhook endpoint store on a database from before numbered places', () => {
  const db = useTestDatabases('endpoint-legacy').database('notification');

  it('numbers the places of endpoints stored before places existed, so the index can be made', async () => {
    const legacy = db.collection('webhookEndpoints');
    const old = (owner: string, n: number) => ({
      owner,
      url: `https://hooks.example/old${n}`,
      events: ['conversion.succeeded'],
      enabled: true,
      disabledReason: null,
      secrets: [{ secret: SECRET, expiresAt: null }],
      failingSince: null,
      createdAt: new Date(Date.now() - 1000 + n),
    });
    await legacy.insertMany([old('veteran', 1), old('veteran', 2), old('veteran', 3)]);
    const endpoints = await createEndpointStore(db);
    const places = (await endpoints.listOwned('veteran')).map((endpoint) => endpoint.slot);
    expect(places.sort()).toEqual([0, 1, 2]);
    // They count: with a limit of 3 the owner has no room left.
    await expect(
      endpoints.add(
        { owner: 'veteran', url: 'https://hooks.example/new', events: ['conversion.succeeded'] },
        SECRET,
        3,
      ),
    ).rejects.toMatchObject({ extensions: { code: 'QUOTA_EXCEEDED' } });
  });
});
