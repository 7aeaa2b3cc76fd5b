import {
  MongoClient,
  MongoNetworkError,
  MongoServerError,
  MongoServerSelectionError,
  type Db,
} from 'mongodb';
import { readEnv } from './readEnv.js';
import { readUrlWithPassword } from './readSecret.js';

/** Where a process keeps its data. */
export interface DatabaseSettings {
  mongodbUri: string;
  /** Database names are `<prefix><service>`: `reelflux_auth` by default. */
  dbPrefix: string;
}

export function readDatabaseSettings(source: NodeJS.ProcessEnv): DatabaseSettings {
  return {
    mongodbUri: readUrlWithPassword(source, 'MONGODB_URI', 'MONGODB_PASSWORD'),
    dbPrefix: readEnv(source).string('DB_PREFIX', 'reelflux_'),
  };
}

/**
 * One MongoClient per process. Short server-selection timeouts so a database outage shows up
 * as a fast, clear error (and a failing /readyz) rather than requests hanging for 30 s.
 */
export function createMongoClient(uri: string, appName: string): MongoClient {
  return new MongoClient(uri, {
    appName,
    serverSelectionTimeoutMS: 5_000,
    connectTimeoutMS: 5_000,
  });
}

/** A connected client, and each service's database on it by name (`<prefix><service>`). */
export interface Databases {
  client: MongoClient;
  database(service: string): Db;
}

/** Connects as `reelflux-<process>` (the name the server's logs show). */
export async function connectDatabases(
  settings: DatabaseSettings,
  process: string,
): Promise<Databases> {
  const client = createMongoClient(settings.mongodbUri, `reelflux-${process}`);
  await client.connect();
  return {
    client,
    database: (service) => client.db(serviceDatabaseName(settings.dbPrefix, service)),
  };
}

/** Database names are `<prefix><service>`: `reelflux_auth` by default, unique per test run. */
export function serviceDatabaseName(prefix: string, service: string): string {
  return `${prefix}${service}`;
}

export async function pingDatabase(db: Db): Promise<void> {
  await db.command({ ping: 1 });
}

/** Duplicate-key errors are how unique indexes answer a lost race. */
export function isDuplicateKeyError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 11000;
}

/**
 * Codes a MongoDB server answers with while it cannot serve for now: a member it needs is
 * unreachable, it is shutting down, or a replica set is electing a primary (the codes the
 * drivers' retryable-reads specification lists). FerretDB's wrapper answers HostUnreachable
 * while its PostgreSQL is away (scripts/ferretdb/backendUnavailable.go).
 */
const UNAVAILABLE_SERVER_CODES = new Set([
  6, // HostUnreachable
  7, // HostNotFound
  89, // NetworkTimeout
  91, // ShutdownInProgress
  189, // PrimarySteppedDown
  9001, // SocketException
  10107, // NotWritablePrimary
  11600, // InterruptedAtShutdown
  11602, // InterruptedDueToReplStateChange
  13435, // NotPrimaryNoSecondaryOk
  13436, // NotPrimaryOrSecondary
]);

/** The database cannot serve for now (down, restarting, partitioned): the caller may retry. */
export function isDatabaseUnavailable(error: unknown): boolean {
  return (
    error instanceof MongoServerSelectionError ||
    error instanceof MongoNetworkError ||
    (error instanceof MongoServerError && UNAVAILABLE_SERVER_CODES.has(Number(error.code)))
  );
}
