import { readBrokerSettings, type BrokerSettings } from '../lib/broker/readBrokerSettings.js';
import type { OperationLimits } from '../lib/server/createOperationGuardPlugin.js';
import { readEnv } from '../lib/platform/readEnv.js';
import { readOperationLimits } from '../lib/server/readOperationLimits.js';
import { readSecret } from '../lib/platform/readSecret.js';
import {
  readTokenVerification,
  type TokenVerificationConfig,
} from '../lib/server/readTokenVerification.js';
import { readServingBasics, type ServingBasics } from '../lib/platform/processPorts.js';
import { SUBGRAPHS, type SubgraphName } from '../lib/contracts/subgraphs.js';
import type { SubscriptionLimits } from './createSubscriptionGuards.js';
import { sharedLimits } from '../lib/platform/sharedLimits.js';

export interface RouterConfig extends ServingBasics, BrokerSettings {
  /** Base URL of each subgraph process; GraphQL is at `<base>/graphql`. */
  subgraphUrls: Record<SubgraphName, string>;
  tokens: TokenVerificationConfig;
  /** INTERNAL_HOP_SECRET: signs every request to a subgraph (see createInternalHop). */
  internalHopSecret: Uint8Array;
  /** How long the router believes "this token's account exists" before asking auth again. */
  accountCheckMs: number;
  /** Largest uploaded file accepted, in bytes (media enforces the same limit). */
  maxUploadBytes: number;
  /** Longest a client may take to send one request, uploads included (then 408). */
  uploadTimeoutMs: number;
  operationLimits: OperationLimits;
  /** How long one subgraph request may take before the router gives up on it. */
  subgraphTimeoutMs: number;
  maxBodyBytes: number;
  /** Proxies in front of the router whose X-Forwarded-For can be believed (0 locally). */
  trustedProxyHops: number;
  introspection: boolean;
  subscriptionLimits: SubscriptionLimits;
  /** Ping interval on subscription sockets; a client that misses a pong is dropped. */
  keepAliveMs: number;
}

export function loadRouterConfig(source: NodeJS.ProcessEnv = process.env): RouterConfig {
  const env = readEnv(source);
  // AUTH_URL, MEDIA_URL, …: one variable per subgraph, defaulting to its local port.
  const subgraphUrls = Object.fromEntries(
    SUBGRAPHS.map(({ name, defaultPort }) => [
      name,
      env.url(`${name.toUpperCase()}_URL`, `http://127.0.0.1:${defaultPort}`),
    ]),
  ) as Record<SubgraphName, string>;
  return {
    ...readServingBasics(source, 'router'),
    ...readBrokerSettings(source),
    subgraphUrls,
    tokens: readTokenVerification(env),
    internalHopSecret: readSecret(source, 'INTERNAL_HOP_SECRET'),
    accountCheckMs: 1000 * env.int('ACCOUNT_CHECK_SECONDS', 30, { min: 0, max: 3600 }),
    maxUploadBytes: sharedLimits.maxUploadBytes(env),
    uploadTimeoutMs: sharedLimits.uploadTimeoutMs(env),
    operationLimits: readOperationLimits(env),
    subgraphTimeoutMs: env.int('SUBGRAPH_TIMEOUT_MS', 30_000, { min: 100 }),
    maxBodyBytes: sharedLimits.maxRequestBytes(env),
    trustedProxyHops: env.int('TRUSTED_PROXY_HOPS', 0, { min: 0, max: 10 }),
    // Off in the image (NODE_ENV=production), on for `npm start`, as Apollo Server decides.
    introspection: env.bool(
      'INTROSPECTION',
      env.string('NODE_ENV', 'development') !== 'production',
    ),
    subscriptionLimits: {
      perConnection: env.int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, { min: 1 }),
      socketsPerUser: env.int('MAX_WEBSOCKETS_PER_USER', 10, { min: 1 }),
      // Many users can share an address (an office, a carrier's NAT): larger than per user.
      socketsPerAddress: env.int('MAX_WEBSOCKETS_PER_ADDRESS', 100, { min: 1 }),
      subscriptionsPerUser: env.int('MAX_SUBSCRIPTIONS_PER_USER', 100, { min: 1 }),
      subscriptionsPerAddress: env.int('MAX_SUBSCRIPTIONS_PER_ADDRESS', 1000, { min: 1 }),
      queriesPerUserPerSecond: env.int('SUBSCRIPTION_QUERIES_PER_USER_PER_SECOND', 10, {
        min: 1,
      }),
    },
    keepAliveMs: env.int('WS_KEEPALIVE_MS', 12_000, { min: 1_000 }),
  };
}
