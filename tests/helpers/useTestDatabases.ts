import { MongoClient, type Db } from 'mongodb';
import { afterAll, inject } from 'vitest';
import { dropDatabases } from '../../scripts/spawnStack.js';
import { uniqueName } from './uniqueName.js';

/**
 * Databases of the calling describe block's own on the shared MongoDB, named as a stack's are
 * (`<prefix><service>`, the prefix `<name>…_` unique to the run), dropped after its tests.
 */
export function useTestDatabases(name: string): { prefix: string; database(service: string): Db } {
  const infra = inject('infra');
  const prefix = `${uniqueName(name)}_`;
  const mongo = new MongoClient(infra.mongodbUri);
  afterAll(async () => {
    await dropDatabases(infra.mongodbUri, prefix);
    await mongo.close();
  });
  return { prefix, database: (service) => mongo.db(`${prefix}${service}`) };
}
