import { createBroker } from '../../lib/createBroker.js';
import { createMultipartParser } from '../../lib/createMultipartParser.js';
import { createRateWindows } from '../../lib/createRateWindows.js';
import { createInternalHop } from '../../lib/createInternalHop.js';
import { createSubgraphServer } from '../../lib/createSubgraphServer.js';
import { createTokenVerifier, remoteKeySet } from '../../lib/createTokenVerifier.js';
import { createHttpApp } from '../../lib/http.js';
import type { Logger } from '../../lib/logger.js';
import { createMetrics } from '../../lib/metrics.js';
import { createMongoClient, pingDatabase, serviceDatabaseName } from '../../lib/mongo.js';
import type { RunningService } from '../../lib/runMain.js';
import { subgraphSdlPath } from '../../lib/subgraphs.js';
import type { MediaConfig } from './config.js';
import { createDownloadTokens } from './createDownloadTokens.js';
import { createFileRoute } from './createFileRoute.js';
import { createJanitor } from './createJanitor.js';
import { createVideoStore } from './createVideoStore.js';
import { createResolvers } from './resolvers.js';

/** Builds the media subgraph (uploads, video and audio records, file downloads). */
export async function createMediaServer(
  config: MediaConfig,
  log: Logger,
): Promise<Pick<RunningService, 'listener' | 'stop'>> {
  const hop = createInternalHop(config.internalHopSecret);
  const mongo = createMongoClient(config.mongodbUri, 'reelflux-media');
  await mongo.connect();
  const db = mongo.db(serviceDatabaseName(config.dbPrefix, 'media'));
  const store = await createVideoStore(db);
  const broker = createBroker({
    url: config.amqpUrl,
    role: 'media',
    namePrefix: config.amqpNamePrefix,
    log,
  });
  const downloads = createDownloadTokens(config.downloads.secret, config.downloads.ttlSeconds);
  const verifyToken = createTokenVerifier({
    keys: remoteKeySet(config.tokens.jwksUrl),
    issuer: config.tokens.issuer,
    audience: config.tokens.audience,
  });

  const janitor = createJanitor({
    db,
    store,
    broker,
    log,
    uploadTimeoutMs: config.uploadTimeoutMs,
  });
  janitor.start();

  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('media'),
    resolvers: createResolvers({
      db,
      store,
      broker,
      downloads,
      publicUrl: config.publicUrl,
      maxUploadBytes: config.maxUploadBytes,
      quotas: config.quotas,
      rates: createRateWindows(db),
    }),
    verifyToken,
    log,
    maxBodyBytes: config.maxBodyBytes,
    operationLimits: config.operationLimits,
    hop,
    parseBody: createMultipartParser({ maxFileBytes: config.maxUploadBytes }),
  });

  return {
    listener: createHttpApp({
      log,
      metrics: createMetrics('media'),
      readiness: [
        ['mongodb', () => pingDatabase(db)],
        ['rabbitmq', () => broker.check()],
      ],
      routes: [route, createFileRoute({ store, downloads, verifyToken })],
    }),
    stop: async () => {
      await janitor.stop();
      await apollo.stop();
      await broker.close();
      await mongo.close();
    },
  };
}
