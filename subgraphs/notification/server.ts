import { Counter, Histogram } from 'prom-client';
import { createBroker } from '../../lib/broker/createBroker.js';
import { subgraphSdlPath } from '../../lib/contracts/subgraphs.js';
import { createDownloadTokens } from '../../lib/platform/createDownloadTokens.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createMetrics } from '../../lib/platform/metrics.js';
import { connectDatabases } from '../../lib/platform/mongo.js';
import { backendReadiness } from '../../lib/server/backendReadiness.js';
import { createInternalHop } from '../../lib/server/createInternalHop.js';
import {
  createSubgraphServer,
  type SubgraphProcess,
} from '../../lib/server/createSubgraphServer.js';
import { createTokenVerifier, remoteKeySet } from '../../lib/server/createTokenVerifier.js';
import { createHttpApp, createInternalApp } from '../../lib/server/http.js';
import { createRateWindows } from '../../lib/stores/createRateWindows.js';
import type { NotificationConfig } from './config.js';
import { createDeliveryStore } from './createDeliveryStore.js';
import { createEndpointStore } from './createEndpointStore.js';
import { createNoticeIntake } from './createNoticeIntake.js';
import { createWebhookDispatcher } from './createWebhookDispatcher.js';
import { createWebhookEndpoints } from './createWebhookEndpoints.js';
import { createResolvers } from './resolvers.js';

/** Builds the notification subgraph, and starts taking in final states and sending notices. */
export async function createNotificationServer(
  config: NotificationConfig,
  log: Logger,
): Promise<SubgraphProcess> {
  const hop = createInternalHop(config.internalHopSecret);
  const mongo = await connectDatabases(config, 'notification');
  const db = mongo.database('notification');
  const broker = createBroker(config, 'notification', log);
  const metrics = createMetrics('notification');
  const endpoints = await createEndpointStore(db);
  const deliveries = await createDeliveryStore(db);

  const attempts = new Counter({
    name: 'notification_webhook_attempts_total',
    help: 'Webhook attempts by outcome',
    labelNames: ['outcome'] as const,
    registers: [metrics.registry],
  });
  const attemptSeconds = new Histogram({
    name: 'notification_webhook_attempt_seconds',
    help: 'How long webhook attempts took',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [metrics.registry],
  });
  const dispatcher = createWebhookDispatcher({
    deliveries,
    endpoints,
    downloads: createDownloadTokens(config.downloads),
    settings: config.webhooks,
    log,
    onAttempt: (outcome, durationMs) => {
      attempts.inc({ outcome });
      attemptSeconds.observe(durationMs / 1000);
    },
  });
  const intake = createNoticeIntake({
    db,
    endpoints,
    deliveries,
    broker,
    onQueued: dispatcher.wake,
    log,
  });
  intake.start();
  dispatcher.start();

  const webhooks = createWebhookEndpoints({
    endpoints,
    deliveries,
    rates: createRateWindows(db),
    settings: config.webhooks,
    mutationsPerMinute: config.mutationsPerMinute,
    onQueued: dispatcher.wake,
  });
  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('notification'),
    resolvers: createResolvers({ endpoints, deliveries, webhooks }),
    verifyToken: createTokenVerifier({
      keys: remoteKeySet(config.tokens.jwksUrl),
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
    }),
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
      await dispatcher.stop();
      await apollo.stop();
      await broker.close();
      await mongo.client.close();
    },
  };
}
