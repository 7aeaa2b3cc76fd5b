import { createLocalJWKSet } from 'jose';
import { createInternalHop } from '../../lib/server/createInternalHop.js';
import {
  createSubgraphServer,
  type SubgraphProcess,
} from '../../lib/server/createSubgraphServer.js';
import { createTokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { createHttpApp, createInternalApp, sendJson } from '../../lib/server/http.js';
import type { Logger } from '../../lib/platform/logger.js';
import { createMetrics } from '../../lib/platform/metrics.js';
import { connectDatabases } from '../../lib/platform/mongo.js';
import { backendReadiness } from '../../lib/server/backendReadiness.js';
import { subgraphSdlPath } from '../../lib/contracts/subgraphs.js';
import type { AuthConfig } from './config.js';
import { createAccounts } from './createAccounts.js';
import { createBasicLoginRoute } from './createBasicLoginRoute.js';
import { createRateWindows } from '../../lib/stores/createRateWindows.js';
import { createLoginLimiter } from './createLoginLimiter.js';
import { createTokenIssuer } from './createTokenIssuer.js';
import { createUserStore } from './createUserStore.js';
import { createResolvers } from './resolvers.js';

/** Builds the auth subgraph (GraphQL, JWKS, HTTP Basic login) without binding a port. */
export async function createAuthServer(config: AuthConfig, log: Logger): Promise<SubgraphProcess> {
  const hop = createInternalHop(config.internalHopSecret);
  const mongo = await connectDatabases(config, 'auth');
  const db = mongo.database('auth');

  const users = await createUserStore(db);
  const tokens = await createTokenIssuer(config.jwt);
  const accounts = await createAccounts({
    users,
    tokens,
    limiter: createLoginLimiter(db, config.login),
    signUps: {
      windows: createRateWindows(db),
      perClient: { max: config.signUpsPerClientPerHour, windowSeconds: 3600 },
      total: { max: config.signUpsPerHour, windowSeconds: 3600 },
    },
  });
  const { apollo, route } = await createSubgraphServer({
    sdlPath: subgraphSdlPath('auth'),
    resolvers: createResolvers({ accounts, users }),
    // Auth holds the keys it signs with: no need to fetch its own JWKS over HTTP.
    verifyToken: createTokenVerifier({
      keys: createLocalJWKSet(tokens.jwks),
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
    }),
    log,
    maxBodyBytes: config.maxBodyBytes,
    operationLimits: config.operationLimits,
    hop,
  });

  const metrics = createMetrics('auth');
  const listener = createHttpApp({
    log,
    metrics,
    routes: [
      route,
      createBasicLoginRoute(accounts, hop),
      {
        methods: ['GET'],
        path: '/.well-known/jwks.json',
        handler: (_req, res) => {
          res.setHeader('cache-control', 'public, max-age=300');
          sendJson(res, 200, tokens.jwks);
        },
      },
    ],
  });

  return {
    listener,
    internalListener: createInternalApp({
      log,
      metrics,
      readiness: backendReadiness(db),
    }),
    stop: async () => {
      await apollo.stop();
      await mongo.client.close();
    },
  };
}
