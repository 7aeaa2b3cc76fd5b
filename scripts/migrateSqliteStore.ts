import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MongoBulkWriteError, MongoClient, type Collection, type Document } from 'mongodb';
import {
  ensureMongo,
  holdsSqliteStore,
  MIGRATED_SQLITE_DIR,
  MIGRATION_DONE,
  SQLITE_STORE_DIR,
  startFerretDb,
} from './infrastructure/ensureMongo.js';
import { freePort } from './spawnStack.js';

/** Databases that belong to the server, not to REELFLUX. */
const SYSTEM_DATABASES = new Set(['admin', 'config', 'local']);

/** Documents per insert: GridFS chunks are 255 KiB, so about 8 MiB a batch at most. */
const BATCH = 32;

export interface CopyReport {
  collections: number;
  /** Documents written now; those already there (a rerun) are counted in `alreadyThere`. */
  copied: number;
  alreadyThere: number;
}

/**
 * Copies every database of `from` (indexes first, then documents by `_id`) into `to`. A
 * document whose `_id` is already there is left as it is, so a copy cut off half-way is
 * finished by running it again.
 */
export async function copyStore(
  from: MongoClient,
  to: MongoClient,
  say: (line: string) => void,
): Promise<CopyReport> {
  const report: CopyReport = { collections: 0, copied: 0, alreadyThere: 0 };
  const { databases } = await from.db('admin').admin().listDatabases({ nameOnly: true });
  for (const { name } of databases) {
    if (SYSTEM_DATABASES.has(name)) continue;
    const source = from.db(name);
    const target = to.db(name);
    for (const { name: collection } of await source
      .listCollections({ type: 'collection' }, { nameOnly: true })
      .toArray()) {
      const indexes = (await source.collection(collection).indexes()).filter(
        (index) => index.name !== '_id_',
      );
      await target.createCollection(collection).catch((error: { codeName?: string }) => {
        if (error.codeName !== 'NamespaceExists') throw error;
      });
      if (indexes.length > 0) {
        await target.collection(collection).createIndexes(
          indexes.map(({ key, name: indexName, unique, sparse, partialFilterExpression }) => ({
            key,
            ...(indexName === undefined ? {} : { name: indexName }),
            ...(unique === undefined ? {} : { unique }),
            ...(sparse === undefined ? {} : { sparse }),
            ...(partialFilterExpression === undefined ? {} : { partialFilterExpression }),
          })),
        );
      }
      let batch: Document[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        const written = await insertMissing(target.collection(collection), batch);
        report.copied += written;
        report.alreadyThere += batch.length - written;
        batch = [];
      };
      for await (const document of source.collection(collection).find().batchSize(BATCH)) {
        batch.push(document);
        if (batch.length >= BATCH) await flush();
      }
      await flush();
      report.collections++;
      say(`copied ${name}.${collection}`);
    }
  }
  return report;
}

/**
 * Inserts `documents`, skipping those whose `_id` is already there (a rerun); returns how many
 * it wrote. Any other refusal, a clash on another unique index included, stops the copy.
 */
async function insertMissing(collection: Collection, documents: Document[]): Promise<number> {
  try {
    return (await collection.insertMany(documents, { ordered: false })).insertedCount;
  } catch (error) {
    if (!(error instanceof MongoBulkWriteError)) throw error;
    for (const writeError of [error.writeErrors].flat()) {
      const document = documents[writeError.index];
      const there =
        writeError.code === 11000 &&
        document !== undefined &&
        (await collection.countDocuments(
          { _id: document._id },
          {
            limit: 1,
          },
        )) === 1;
      if (!there) {
        throw new Error(
          `${collection.namespace}: ${String(document?._id)} was refused (${writeError.errmsg ?? writeError.code}); nothing after it was copied`,
        );
      }
    }
    return error.insertedCount;
  }
}

/**
 * `npm run store:migrate`: the store of FerretDB's SQLite handler (`.local/data/ferretdb/`)
 * into the local store (`ensureMongo`: FerretDB on PostgreSQL, or MONGODB_URI). The folder is
 * first moved aside to `.local/data/ferretdb-sqlite/`, and marked done once every document is
 * copied; until then `npm start` refuses to run, so a copy cut off half-way is never mistaken
 * for the store. Running the command again finishes it. The old folder is kept.
 */
export async function migrateSqliteStore(options: {
  storeDir: string;
  movedDir: string;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
}): Promise<CopyReport | undefined> {
  const { storeDir, movedDir, say } = options;
  if (holdsSqliteStore(storeDir)) {
    if (existsSync(movedDir)) {
      throw new Error(`both ${storeDir} and ${movedDir} exist: move one of them away first`);
    }
    renameSync(storeDir, movedDir);
    say(`moved ${storeDir} to ${movedDir}`);
  }
  if (!holdsSqliteStore(movedDir)) {
    say(`no SQLite store in ${storeDir}: nothing to migrate`);
    return undefined;
  }
  const targetStore = await ensureMongo(options.env, say, { migrating: true });
  try {
    const sourceStore = await startFerretDb(await freePort(), [
      '--handler=sqlite',
      `--sqlite-url=file:${movedDir}/`,
    ]);
    const from = new MongoClient(sourceStore.uri);
    const to = new MongoClient(targetStore.uri);
    try {
      const report = await copyStore(from, to, say);
      writeFileSync(join(movedDir, MIGRATION_DONE), `${new Date().toISOString()}\n`);
      say(
        `migrated ${report.collections} collections: ${report.copied} documents copied, ` +
          `${report.alreadyThere} already there. ${movedDir} is kept; delete it once you are satisfied.`,
      );
      return report;
    } finally {
      await Promise.all([from.close(), to.close()]);
      await sourceStore.stop();
    }
  } finally {
    await targetStore.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await migrateSqliteStore({
    storeDir: SQLITE_STORE_DIR,
    movedDir: MIGRATED_SQLITE_DIR,
    env: process.env,
    say: (line) => process.stdout.write(`${line}\n`),
  });
}
