import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import type { Fetcher } from '@apollo/utils.fetcher';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import {
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { HopSigner } from '../lib/server/createInternalHop.js';
import { createOperationGuardPlugin } from '../lib/server/createOperationGuardPlugin.js';
import { maskInternalError } from '../lib/server/createSubgraphServer.js';
import type { Logger } from '../lib/platform/logger.js';
import { SCHEMA_PATHS, SUBGRAPHS, type SubgraphName } from '../lib/contracts/subgraphs.js';
import type { RouterConfig } from './config.js';
import type { RouterContext } from './RouterContext.js';
import { ForwardingDataSource } from './ForwardingDataSource.js';
import { createLocalIntrospectionPlugin } from './createLocalIntrospectionPlugin.js';

/**
 * Apollo Gateway over the committed supergraph in an Apollo Server, started: every subgraph
 * request goes out through `fetcher` (or, for an upload, beside it), signed with `sign`.
 */
export async function createRouterApollo(
  config: RouterConfig,
  log: Logger,
  hop: { fetcher: Fetcher; sign: HopSigner },
): Promise<ApolloServer<RouterContext>> {
  const gateway = new ApolloGateway({
    supergraphSdl: readFileSync(SCHEMA_PATHS.supergraph, 'utf8'),
    // Subgraph URLs come from configuration, not from the composed file, so one supergraph
    // serves localhost, docker-compose and Kubernetes alike.
    buildService: ({ name }) => {
      if (!isSubgraphName(name)) throw new Error(`no URL configured for subgraph "${name}"`);
      return new ForwardingDataSource({
        url: `${config.subgraphUrls[name]}/graphql`,
        fetcher: hop.fetcher,
        maxFileBytes: config.maxUploadBytes,
        sign: hop.sign,
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
  return apollo;
}

function isSubgraphName(name: string): name is SubgraphName {
  return SUBGRAPHS.some((subgraph) => subgraph.name === name);
}
