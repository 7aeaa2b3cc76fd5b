import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import type { Fetcher } from '@apollo/utils.fetcher';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { createGraphQLHandler } from '../lib/server/createGraphQLHandler.js';
import { createInternalHop, HOP_HEADER, type HopSigner } from '../lib/server/createInternalHop.js';
import { createOperationGuardPlugin } from '../lib/server/createOperationGuardPlugin.js';
import { createMultipartParser } from '../lib/server/createMultipartParser.js';
import { maskInternalError } from '../lib/server/createSubgraphServer.js';
import {
  authenticateHeader,
  createTokenVerifier,
  remoteKeySet,
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
import type { RouterContext } from './RouterContext.js';
import { createAccountCheck, lookupAccountInAuth } from './createAccountCheck.js';
import { ForwardingDataSource } from './ForwardingDataSource.js';
import { createKeepAliveFetcher } from './createKeepAliveFetcher.js';
import { createLocalIntrospectionPlugin } from './createLocalIntrospectionPlugin.js';
import { createConversionEvents } from './createConversionEvents.js';
import { createProxyRoute } from './createProxyRoute.js';
import { createSubscriptionServer } from './createSubscriptionServer.js';
import { createWebAppRoutes } from './createWebAppRoutes.js';
import { fromRoot } from '../lib/platform/projectRoot.js';

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
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(SCHEMA_PATHS.supergraph, 'utf8'),
    // Subgraph URLs come from configuration, not from the composed file, so one supergraph
    // serves localhost, docker-compose and Kubernetes alike.
    buildService: ({ name }) => {
      if (!isSubgraphName(name)) throw new Error(`no URL configured for subgraph "${name}"`);
      return new ForwardingDataSource({
        url: `${config.subgraphUrls[name]}/graphql`,
        fetcher,
        maxFileBytes: config.maxUploadBytes,
        sign,
      });
    },
  });
  const apollo = new ApolloServer<RouterContext>({
    gateway,
    introspection: config.introspection,
    // With introspection off, "Did you mean …?" suggestions would still spell the schema out.
    hideSchemaDetailsFromClientErrors: !config.introspection,
    includeStacktraceInErrorResponses: false,
    // runMain owns SIGTERM: drain HTTP first, then stop Apollo, then close connections.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => maskInternalError(formatted, error, log),
    plugins: [
      createOperationGuardPlugin(config.operationLimits, {
        refuseSubscriptions: true,
        introspection: config.introspection,
      }),
      ...(config.introspection ? [createLocalIntrospectionPlugin()] : []),
      ApolloServerPluginUsageReportingDisabled(),
      // Sandbox's page runs Apollo's CDN script on this origin, where the web page keeps its
      // token: served only where introspection is on (development; off by default in production).
      config.introspection
        ? ApolloServerPluginLandingPageLocalDefault({ embed: true, includeCookies: false })
        : ApolloServerPluginLandingPageDisabled(),
    ],
  });
  await apollo.start();

  const verifyToken = createAccountCheck(
    createTokenVerifier({
      keys: remoteKeySet(config.tokens.jwksUrl),
      issuer: config.tokens.issuer,
      audience: config.tokens.audience,
    }),
    {
      lookup: lookupAccountInAuth(fetcher, `${config.subgraphUrls.auth}/graphql`),
      ttlMs: config.accountCheckMs,
    },
  );
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

  const readiness: ReadinessCheck[] = [
    ...SUBGRAPHS.map(({ name }): ReadinessCheck => [
      name,
      () => expectAnswer(fetcher, `${config.subgraphUrls[name]}/graphql`),
    ]),
    ['rabbitmq', () => broker.check()],
  ];

  return {
    internalListener: createInternalApp({ log, metrics, readiness }),
    listener: createHttpApp({
      log,
      metrics,
      routes: [
        { methods: ['GET', 'POST'], path: '/graphql', handler: graphql },
        ...createWebAppRoutes(fromRoot('dist', 'web')),
        createProxyRoute({
          methods: ['POST'],
          path: '/auth/login',
          target: config.subgraphUrls.auth,
          upstreamPath: () => '/auth/login',
          requestHeaders: ['authorization'],
          responseHeaders: [
            'content-type',
            'content-length',
            'www-authenticate',
            'retry-after',
            'cache-control',
          ],
          trustedProxyHops: config.trustedProxyHops,
          sign,
          idleTimeoutMs: 10_000,
        }),
        createProxyRoute({
          methods: ['GET', 'HEAD'],
          path: '/files/*',
          target: config.subgraphUrls.media,
          upstreamPath: (pathname) => {
            const match = /^\/files\/(videos|audio)\/([0-9a-fA-F]{24})$/.exec(pathname);
            return match ? `/files/${match[1]}/${match[2]?.toLowerCase()}` : undefined;
          },
          requestHeaders: ['authorization', 'range', 'if-none-match'],
          responseHeaders: [
            'content-type',
            'content-length',
            'content-range',
            'content-disposition',
            'accept-ranges',
            'etag',
            'cache-control',
          ],
          trustedProxyHops: config.trustedProxyHops,
          sign,
          idleTimeoutMs: 30_000,
        }),
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

function isSubgraphName(name: string): name is SubgraphName {
  return SUBGRAPHS.some((subgraph) => subgraph.name === name);
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
