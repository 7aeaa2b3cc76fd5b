import { Counter, Histogram, type Registry } from 'prom-client';
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
  routerOnly,
  type SubgraphProcess,
} from '../../lib/server/createSubgraphServer.js';
import { createRemoteTokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { createHttpApp, createInternalApp } from '../../lib/server/http.js';
import { createRateWindows } from '../../lib/stores/createRateWindows.js';
import type { NotificationConfig } from './config.js';
import { createDeliveryStore, type Channel } from './createDeliveryStore.js';
import { createEndpointStore } from './createEndpointStore.js';
import { createDeliveryDispatcher } from './createDeliveryDispatcher.js';
import { createNoticeIntake, type NoticeTarget } from './createNoticeIntake.js';
import { createEmailChannel } from './email/createEmailChannel.js';
import { createEmailStore } from './email/createEmailStore.js';
import { createMailer } from './email/createMailer.js';
import { createPushChannel } from './push/createPushChannel.js';
import { createWebhookSender } from './webhooks/createWebhookSender.js';
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

  const rates = createRateWindows(db);
  const emailStore = await createEmailStore(db);
  const mailer = config.email.smtpUrl
    ? createMailer({ smtpUrl: config.email.smtpUrl, from: config.email.from })
    : undefined;
  const email = createEmailChannel({
    store: emailStore,
    mailer,
    rates,
    settings: config.email,
    publicUrl: config.downloads.publicUrl,
    log,
  });

  const push = await createPushChannel(db, config.push);

  const dispatcher = createDeliveryDispatcher({
    deliveries,
    senders: {
      webhook: createWebhookSender({
        endpoints,
        deliveries,
        downloads: createDownloadTokens(config.downloads),
        settings: config.webhooks,
        log,
        onDisabled: email.tellEndpointDisabled,
      }),
      email: email.send,
      push: push.send,
    },
    settings: config.webhooks,
    log,
    onAttempt: attemptMetrics(metrics.registry),
  });
  const intake = createNoticeIntake({
    db,
    targetsFor: async (owner, type) => {
      const targets: NoticeTarget[] = (await endpoints.subscribed(owner, type)).map((endpoint) => ({
        channel: 'webhook',
        targetId: endpoint._id,
      }));
      const mail = await emailStore.forOwner(owner);
      if (mail?.verified && mail.enabled && mail.events.includes(type)) {
        targets.push({ channel: 'email', targetId: mail._id });
      }
      for (const browser of await push.subscribed(owner, type)) {
        targets.push({ channel: 'push', targetId: browser._id });
      }
      return targets;
    },
    deliveries,
    broker,
    onQueued: dispatcher.schedule,
    log,
  });
  intake.start();
  dispatcher.start();

  const webhooks = createWebhookEndpoints({
    endpoints,
    deliveries,
    rates,
    settings: config.webhooks,
    mutationsPerMinute: config.mutationsPerMinute,
    onQueued: dispatcher.schedule,
  });
  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('notification'),
    resolvers: createResolvers({ endpoints, deliveries, webhooks, emailStore, email, push }),
    verifyToken: createRemoteTokenVerifier(config.tokens),
    log,
    maxBodyBytes: config.maxBodyBytes,
    operationLimits: config.operationLimits,
    hop,
  });

  return {
    listener: createHttpApp({
      log,
      metrics,
      // The mail links reach these through the router's relay, which signs them as it signs
      // GraphQL (without a body): nothing else may act on a token here.
      routes: [
        route,
        ...email.routes.map((emailRoute) => ({
          ...emailRoute,
          handler: routerOnly(hop, emailRoute.handler, { maxBodyBytes: config.maxBodyBytes }),
        })),
      ],
    }),
    internalListener: createInternalApp({
      log,
      metrics,
      readiness: backendReadiness(db, broker),
    }),
    stop: async () => {
      await broker.stopConsuming();
      await dispatcher.stop();
      mailer?.close();
      await apollo.stop();
      await broker.close();
      await mongo.client.close();
    },
  };
}

/** Counts each delivery attempt and how long it took, by channel and outcome, on /metrics. */
function attemptMetrics(
  registry: Registry,
): (channel: Channel, outcome: string, durationMs: number) => void {
  const attempts = new Counter({
    name: 'notification_attempts_total',
    help: 'Delivery attempts by channel and outcome',
    labelNames: ['channel', 'outcome'] as const,
    registers: [registry],
  });
  const attemptSeconds = new Histogram({
    name: 'notification_attempt_seconds',
    help: 'How long delivery attempts took, by channel',
    labelNames: ['channel'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  return (channel, outcome, durationMs) => {
    attempts.inc({ channel, outcome });
    attemptSeconds.observe({ channel }, durationMs / 1000);
  };
}
