import { createBroker } from '../../lib/broker/createBroker.js';
import { createMultipartParser } from '../../lib/server/createMultipartParser.js';
import { createRateWindows } from '../../lib/stores/createRateWindows.js';
import { createStorageQuota } from '../../lib/stores/storageQuota.js';
import { createInternalHop } from '../../lib/server/createInternalHop.js';
import {
  createSubgraphServer,
  type SubgraphProcess,
} from '../../lib/server/createSubgraphServer.js';
import { createRemoteTokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { createHttpApp, createInternalApp } from '../../lib/server/http.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createMetrics } from '../../lib/platform/metrics.js';
import { connectDatabases } from '../../lib/platform/mongo.js';
import { backendReadiness } from '../../lib/server/backendReadiness.js';
import { subgraphSdlPath } from '../../lib/contracts/subgraphs.js';
import type { MediaConfig } from './config.js';
import { createDownloadTokens } from '../../lib/platform/createDownloadTokens.js';
import { createFileRoute } from './createFileRoute.js';
import { createJanitor } from './createJanitor.js';
import { createVideoStore } from './createVideoStore.js';
import { createResolvers } from './resolvers.js';
import { createResumableUploads } from './createResumableUploads.js';
import { createTusRoute } from './createTusRoute.js';

/** Builds the media subgraph (uploads, video and audio records, file downloads). */
export async function createMediaServer(
  config: MediaConfig,
  log: Logger,
): Promise<SubgraphProcess> {
  const hop = createInternalHop(config.internalHopSecret);
  const mongo = await connectDatabases(config, 'media');
  const db = mongo.database('media');
  const store = await createVideoStore(db);
  const broker = createBroker(config, 'media', log);
  const downloads = createDownloadTokens(config.downloads);
  const verifyToken = createRemoteTokenVerifier(config.tokens);

  const quota = await createStorageQuota(db, config.quotas.maxStoredBytesPerUser);
  const rates = createRateWindows(db);
  const uploads = await createResumableUploads(db);
  const janitor = createJanitor({
    db,
    store,
    broker,
    log,
    uploadTimeoutMs: config.uploadTimeoutMs,
    resumable: { uploads, quota, expiryMs: config.resumableUploadExpiryMs },
  });
  janitor.start();

  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('media'),
    resolvers: createResolvers({
      db,
      store,
      broker,
      downloads,
      maxUploadBytes: config.maxUploadBytes,
      realtimeMinBytes: config.realtimeMinBytes,
      quotas: config.quotas,
      quota,
      uploadTimeoutMs: config.uploadTimeoutMs,
      rates,
    }),
    verifyToken,
    log,
    maxBodyBytes: config.maxBodyBytes,
    operationLimits: config.operationLimits,
    hop,
    parseBody: createMultipartParser({ maxFileBytes: config.maxUploadBytes, requireFile: true }),
  });

  const metrics = createMetrics('media');
  return {
    listener: createHttpApp({
      log,
      metrics,
      routes: [
        route,
        createFileRoute({ store, downloads, verifyToken }),
        createTusRoute({
          db,
          uploads,
          store,
          broker,
          quota,
          rates,
          uploadsPerMinute: config.quotas.uploadsPerMinute,
          verifyToken,
          hop,
          log,
          maxUploadBytes: config.maxUploadBytes,
          realtimeMinBytes: config.realtimeMinBytes,
          expiryMs: config.resumableUploadExpiryMs,
          uploadTimeoutMs: config.uploadTimeoutMs,
        }),
      ],
    }),
    internalListener: createInternalApp({
      log,
      metrics,
      readiness: backendReadiness(db, broker),
    }),
    stop: async () => {
      await janitor.stop();
      await apollo.stop();
      await broker.close();
      await mongo.client.close();
    },
  };
}
