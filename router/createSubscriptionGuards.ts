import type { GraphQLError } from 'graphql';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { WebSocket } from 'ws';
import { ErrorCode, SocketCloseCode, graphqlError } from '../lib/contracts/errors.js';
import { addressBlock } from '../lib/server/addressBlock.js';
import { createKeyedLimit, type KeyedLimit } from './createKeyedLimit.js';

/**
 * What one client may hold open and cost the gateway. Each router process counts its own; a
 * client spread over N replicas may hold N times as much.
 */
export interface SubscriptionLimits {
  /** Subscriptions one socket may hold. */
  perConnection: number;
  socketsPerUser: number;
  /** Sockets from one client address, counted before authentication. */
  socketsPerAddress: number;
  subscriptionsPerUser: number;
  subscriptionsPerAddress: number;
  /** Gateway queries a second one user's subscriptions may run, in bursts of up to twice that. */
  queriesPerUserPerSecond: number;
}

/** Which limit refused a socket or a subscription (`reason` in the error, a metric label). */
const LIMITED = {
  SOCKETS_PER_USER: 'sockets per user',
  SOCKETS_PER_ADDRESS: 'sockets per client address',
  SUBSCRIPTIONS_PER_CONNECTION: 'subscriptions per connection',
  SUBSCRIPTIONS_PER_USER: 'subscriptions per user',
  SUBSCRIPTIONS_PER_ADDRESS: 'subscriptions per client address',
} as const;
type LimitReason = keyof typeof LIMITED;

/**
 * The subscription server's places and its metrics: sockets and subscriptions taken and given
 * back per user and per client address (an IPv6 /64 counted as one), each refusal counted.
 */
export interface SubscriptionGuards {
  /** Gives a place back when called; a socket past its address's limit is closed instead. */
  takeAddressSocket(socket: WebSocket, address: string): (() => void) | undefined;
  takeUserSocket(socket: WebSocket, userId: string): (() => void) | undefined;
  /** The errors to refuse with when `open` (counting this one) is past the per-socket limit. */
  checkPerConnection(open: number): GraphQLError[] | undefined;
  /** One subscription's places under its user and address, or the errors to refuse with. */
  takeSubscription(userId: string, address: string): (() => void) | GraphQLError[];
  socketOpened(): void;
  socketClosed(): void;
  /** Counted for each query run through the gateway to answer subscriptions. */
  queryRun(): void;
}

export function createSubscriptionGuards(
  limits: SubscriptionLimits,
  registry: Registry,
): SubscriptionGuards {
  const active = new Gauge({
    name: 'graphql_subscriptions_active',
    help: 'Subscriptions this router is serving',
    registers: [registry],
  });
  const sockets = new Gauge({
    name: 'graphql_websockets_open',
    help: 'graphql-ws sockets open on this router',
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'graphql_subscription_refusals_total',
    help: 'Sockets and subscriptions refused by a per-user, per-address or per-socket limit',
    labelNames: ['limit'],
    registers: [registry],
  });
  const gatewayQueries = new Counter({
    name: 'graphql_subscription_queries_total',
    help: 'Queries run through the gateway to answer subscriptions',
    registers: [registry],
  });
  const socketsPerUser = createKeyedLimit(limits.socketsPerUser);
  const socketsPerAddress = createKeyedLimit(limits.socketsPerAddress);
  const subscriptionsPerUser = createKeyedLimit(limits.subscriptionsPerUser);
  const subscriptionsPerAddress = createKeyedLimit(limits.subscriptionsPerAddress);

  /** Closes a socket past a limit: 4429, which graphql-ws clients do not retry. */
  const takeSocket = (socket: WebSocket, keyed: KeyedLimit, key: string, reason: LimitReason) => {
    const release = keyed.take(key);
    if (release) return release;
    refusals.inc({ limit: reason });
    socket.close(SocketCloseCode.TOO_MANY_SOCKETS, `At most ${keyed.limit} ${LIMITED[reason]}`);
    return undefined;
  };
  /** The error a subscription past a limit gets: end one to open another. */
  const refuseSubscription = (reason: LimitReason, limit: number) => {
    refusals.inc({ limit: reason });
    return [
      graphqlError(ErrorCode.RATE_LIMITED, `At most ${limit} ${LIMITED[reason]}`, {
        reason,
        limit,
      }),
    ];
  };

  return {
    takeAddressSocket: (socket, address) =>
      takeSocket(socket, socketsPerAddress, addressBlock(address), 'SOCKETS_PER_ADDRESS'),
    takeUserSocket: (socket, userId) =>
      takeSocket(socket, socketsPerUser, userId, 'SOCKETS_PER_USER'),
    checkPerConnection: (open) =>
      open > limits.perConnection
        ? refuseSubscription('SUBSCRIPTIONS_PER_CONNECTION', limits.perConnection)
        : undefined,
    takeSubscription(userId, address) {
      const releaseUser = subscriptionsPerUser.take(userId);
      if (!releaseUser) {
        return refuseSubscription('SUBSCRIPTIONS_PER_USER', subscriptionsPerUser.limit);
      }
      const releaseAddress = subscriptionsPerAddress.take(addressBlock(address));
      if (!releaseAddress) {
        releaseUser();
        return refuseSubscription('SUBSCRIPTIONS_PER_ADDRESS', subscriptionsPerAddress.limit);
      }
      active.inc();
      return () => {
        active.dec();
        releaseUser();
        releaseAddress();
      };
    },
    socketOpened: () => sockets.inc(),
    socketClosed: () => sockets.dec(),
    queryRun: () => gatewayQueries.inc(),
  };
}
