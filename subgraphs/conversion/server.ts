import { createBroker } from '../../lib/broker/createBroker.js';
import { createInternalHop } from '../../lib/server/createInternalHop.js';
import {
  createSubgraphServer,
  type SubgraphProcess,
} from '../../lib/server/createSubgraphServer.js';
import { createRemoteTokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { openConversionEngine } from '../../lib/conversions/createConversionEngine.js';
import { createHttpApp, createInternalApp } from '../../lib/server/http.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createMetrics } from '../../lib/platform/metrics.js';
import { connectDatabases } from '../../lib/platform/mongo.js';
import { backendReadiness } from '../../lib/server/backendReadiness.js';
import { subgraphSdlPath } from '../../lib/contracts/subgraphs.js';
import type { ConversionConfig } from './config.js';
import { createConversionService } from './createConversionService.js';
import { createVideoProjections } from './createVideoProjections.js';
import { createResolvers } from './resolvers.js';

/** Builds the conversion subgraph and starts consuming video events. */
export async function createConversionServer(
  config: ConversionConfig,
  log: Logger,
): Promise<SubgraphProcess> {
  const hop = createInternalHop(config.internalHopSecret);
  const mongo = await connectDatabases(config, 'conversion');
  const db = mongo.database('conversion');
  const broker = createBroker(config, 'conversion', log);
  const engine = await openConversionEngine(db, { broker, log });
  const videos = await createVideoProjections(db);
  const metrics = createMetrics('conversion');
  const service = createConversionService({
    db,
    engine,
    videos,
    broker,
    log,
    staleAfterMs: config.staleAfterMs,
    limits: config.limits,
    registry: metrics.registry,
  });
  service.start();

  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('conversion'),
    resolvers: createResolvers({ engine, service }),
    verifyToken: createRemoteTokenVerifier(config.tokens),
    log,
    maxBodyBytes: config.maxBodyBytes,
    operationLimits: config.operationLimits,
    hop,
  });

  return {
    listener: createHttpApp({ log, metrics, routes: [route] }),
    internalListener: createInternalApp({
      log,
      metrics,
      readiness: backendReadiness(db, broker),
    }),
    stop: async () => {
      await broker.stopConsuming();
      await service.stop();
      await apollo.stop();
      await broker.close();
      await mongo.client.close();
    },
  };
}
