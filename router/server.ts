import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import type { Fetcher } from '@apollo/utils.fetcher';
import { createGraphQLHandler } from '../lib/server/createGraphQLHandler.js';
import { createInternalHop, HOP_HEADER, type HopSigner } from '../lib/server/createInternalHop.js';
import { createMultipartParser } from '../lib/server/createMultipartParser.js';
import {
  authenticateHeader,
  createRemoteTokenVerifier,
} from '../lib/server/createTokenVerifier.js';
import {
  clientAddress,
  createHttpApp,
  createInternalApp,
  type ReadinessCheck,
} from '../lib/server/http.js';
import type { Logger } from '../lib/platform/logger.js';
import { createBroker } from '../lib/broker/createBroker.js';
import { createMetrics } from '../lib/platform/metrics.js';
import type { RunningService } from '../lib/platform/runMain.js';
import { SCHEMA_PATHS, SUBGRAPHS, type SubgraphName } from '../lib/contracts/subgraphs.js';
import type { RouterConfig } from './config.js';
import { createAccountCheck, lookupAccountInAuth } from './createAccountCheck.js';
import { createKeepAliveFetcher } from './createKeepAliveFetcher.js';
import { createConversionEvents } from './createConversionEvents.js';
import { createRelayRoutes } from './createRelayRoutes.js';
import { createRouterApollo } from './createRouterApollo.js';
import { createSubscriptionServer } from './createSubscriptionServer.js';
import { createWebAppRoutes } from './createWebAppRoutes.js';
import { fromRoot } from '../lib/platform/projectRoot.js';

/**
 * Subgraphs the router serves without: while notification is out, its fields fail and every
 * upload, conversion and download still works, so its outage must not take the router out of
 * its Service. /readyz lists it under `degraded`.
 */
const ADVISORY_SUBGRAPHS: ReadonlySet<SubgraphName> = new Set(['notification']);

/**
 * The public entry point: Apollo Gateway over the committed supergraph, graphql-ws
 * subscriptions on the same URL, the HTTP Basic login and file relays, and the web app at `/`. Tokens are verified
 * here first so a bad one fails fast with UNAUTHENTICATED, and again by each subgraph; only
 * here is the account behind a token checked to still exist.
 */
export async function createRouterServer(
  config: RouterConfig,
  log: Logger,
): Promise<
  Pick<RunningService, 'listener' | 'internalListener' | 'stop' | 'onListening' | 'beforeDrain'>
> {
  const hop = createInternalHop(config.internalHopSecret);
  // Each request to a subgraph is signed as it goes out, for itself alone (createInternalHop).
  const sign: HopSigner = (request) => ({ [HOP_HEADER]: hop.sign(request) });
  const fetcher = createKeepAliveFetcher({ timeoutMs: config.subgraphTimeoutMs, sign });
  const apollo = await createRouterApollo(config, log, { fetcher, sign });

  const verifyToken = createAccountCheck(createRemoteTokenVerifier(config.tokens), {
    lookup: lookupAccountInAuth(fetcher, `${config.subgraphUrls.auth}/graphql`),
    ttlMs: config.accountCheckMs,
  });
  const graphql = createGraphQLHandler(apollo, {
    maxBodyBytes: config.maxBodyBytes,
    parseBody: createMultipartParser({ maxFileBytes: config.maxUploadBytes }),
    context: async (req) => {
      const authorization = req.headers.authorization;
      const verified = await authenticateHeader(verifyToken, authorization);
      return {
        authorization: verified ? authorization : undefined,
        userId: verified?.userId,
        clientAddress: clientAddress(req, config.trustedProxyHops),
        ...(req.headers['content-length']
          ? { requestBytes: Number(req.headers['content-length']) }
          : {}),
      };
    },
  });

  const metrics = createMetrics('router');
  const broker = createBroker(config, 'router', log);
  const subscriptions = createSubscriptionServer({
    apollo,
    schema: buildSchema(readFileSync(SCHEMA_PATHS.api, 'utf8')),
    introspection: config.introspection,
    verifyToken,
    events: createConversionEvents(broker, log),
    trustedProxyHops: config.trustedProxyHops,
    limits: config.subscriptionLimits,
    maxMessageBytes: 65_536,
    keepAliveMs: config.keepAliveMs,
    registry: metrics.registry,
    log,
  });

  const answers = (name: SubgraphName): ReadinessCheck => [
    name,
    () => expectAnswer(fetcher, `${config.subgraphUrls[name]}/graphql`),
  ];
  const readiness: ReadinessCheck[] = [
    ...SUBGRAPHS.filter(({ name }) => !ADVISORY_SUBGRAPHS.has(name)).map(({ name }) =>
      answers(name),
    ),
    ['rabbitmq', () => broker.check()],
  ];
  const advisory = [...ADVISORY_SUBGRAPHS].map(answers);

  return {
    internalListener: createInternalApp({ log, metrics, readiness, advisory }),
    listener: createHttpApp({
      log,
      metrics,
      routes: [
        { methods: ['GET', 'POST'], path: '/graphql', handler: graphql },
        ...createWebAppRoutes(fromRoot('dist', 'web')),
        ...createRelayRoutes(
          config,
          sign,
          async (req) =>
            (await authenticateHeader(verifyToken, req.headers.authorization)) !== undefined,
        ),
      ],
    }),
    onListening: (server) => subscriptions.attach(server),
    beforeDrain: () => subscriptions.close(),
    stop: async () => {
      await apollo.stop();
      await broker.close();
    },
  };
}

/**
 * The subgraph answers the router: a signed `{ __typename }` on its public port, which also
 * proves that both hold the same INTERNAL_HOP_SECRET. The subgraph's own readiness (its
 * database, its broker) is on its internal port, out of the router's reach; in Kubernetes a
 * replica that is not ready is out of its Service already.
 */
async function expectAnswer(fetcher: Fetcher, url: string): Promise<void> {
  const response = await fetcher(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
    signal: AbortSignal.timeout(2_000),
  });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
}
