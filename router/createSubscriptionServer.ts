import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import {
  GraphQLError,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
} from 'graphql';
import { CloseCode, type Context, type SubscribePayload } from 'graphql-ws';
import { useServer, type Extra } from 'graphql-ws/use/ws';
import type { Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';
import {
  authenticateHeader,
  type TokenVerifier,
  type VerifiedToken,
} from '../lib/server/createTokenVerifier.js';
import { clientAddress } from '../lib/server/http.js';
import type { Logger } from '../lib/platform/logger.js';
import { closeAtExpiry } from './closeAtExpiry.js';
import type { ConversionEvents } from './createConversionEvents.js';
import { createConversionWatch } from './createConversionWatch.js';
import { createQueryBudget } from './createQueryBudget.js';
import { createSharedQueries, type SharedQueries } from './createSharedQueries.js';
import {
  createSubscriptionGuards,
  type SubscriptionGuards,
  type SubscriptionLimits,
} from './createSubscriptionGuards.js';
import { executeGatewayQuery } from './executeGatewayQuery.js';
import {
  planSubscription,
  subscriptionValidation,
  type SubscriptionValidation,
} from './planSubscription.js';
import { readAuthorization } from './readAuthorization.js';
import type { RouterContext } from './RouterContext.js';

export interface SubscriptionServerOptions {
  apollo: ApolloServer<RouterContext>;
  /** The public API schema, to validate subscriptions against. */
  schema: GraphQLSchema;
  /**
   * As the router's Apollo Server is configured. Off, introspection is refused here too, and
   * validation errors carry no "Did you mean …?" hints, which would spell the schema out.
   */
  introspection: boolean;
  verifyToken: TokenVerifier;
  events: ConversionEvents;
  trustedProxyHops: number;
  limits: SubscriptionLimits;
  /** Largest WebSocket message accepted, in bytes. */
  maxMessageBytes: number;
  keepAliveMs: number;
  registry: Registry;
  log: Logger;
}

export interface SubscriptionServer {
  attach(server: Server): void;
  /** Closes every socket with 1001 (going away) so clients reconnect to another router. */
  close(): Promise<void>;
}

interface Session {
  authorization: string;
  token: VerifiedToken;
  clientAddress: string;
}

type ConnectionParams = Record<string, unknown> | undefined;
type SocketContext = Context<ConnectionParams, Extra>;

/** What the two graphql-ws hooks below share with the server that made them. */
interface Hooks {
  options: SubscriptionServerOptions;
  guards: SubscriptionGuards;
  queries: SharedQueries;
  validation: SubscriptionValidation;
  sessions: WeakMap<WebSocket, Session>;
  authenticate: (authorization: string) => Promise<VerifiedToken | undefined>;
}

/**
 * graphql-ws on the router's own port and path. `@apollo/gateway` cannot run subscriptions, so
 * the router answers `conversionUpdated` itself: it authenticates the socket once (token in
 * `connection_init`), and for each subscription runs the subscriber's selection as a query
 * through the gateway with the subscriber's credentials, at the start and after each event.
 * Sockets and subscriptions are capped per user and per client address, a user's queries share
 * one budget, and each socket closes when its token expires: no client holds more than its
 * share, and none holds it for longer than its token.
 */
export function createSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const { apollo, schema, log, limits } = options;
  const guards = createSubscriptionGuards(limits, options.registry);
  const hooks: Hooks = {
    options,
    guards,
    queries: createSharedQueries({
      execute: (context, query, variables) =>
        executeGatewayQuery(apollo, context, query, variables, log),
      budget: createQueryBudget({ perSecond: limits.queriesPerUserPerSecond }),
      onRun: () => guards.queryRun(),
    }),
    validation: subscriptionValidation(options.introspection),
    sessions: new WeakMap(),
    authenticate: async (authorization) =>
      authenticateHeader(options.verifyToken, authorization).catch(() => undefined),
  };
  let wss: WebSocketServer | undefined;

  return {
    attach(server) {
      wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxMessageBytes });
      // Registered before graphql-ws's own listener, so a refused socket is closed before
      // graphql-ws reads anything from it.
      wss.on('connection', (socket, request) => {
        guards.socketOpened();
        // graphql-ws listens for a socket's first error only; a client's bad frames must never
        // reach an emitter with no listener.
        socket.on('error', (error) => log.debug({ err: error }, 'websocket client error'));
        // Counted before any token is read: anonymous sockets take places too, for the 5 s
        // they have to send connection_init. By address block: an IPv6 /64 is one client.
        const release = guards.takeAddressSocket(
          socket,
          clientAddress(request, options.trustedProxyHops),
        );
        if (release) socket.once('close', release);
      });
      wss.on('error', (error) => log.warn({ err: error }, 'websocket server error'));
      useServer<ConnectionParams>(
        {
          schema,
          connectionInitWaitTimeout: 5_000,
          onConnect: (ctx) => openSession(hooks, ctx),
          onClose: () => {
            guards.socketClosed();
          },
          onSubscribe: (ctx, _id, payload) => startWatch(hooks, ctx, payload),
          // onSubscribe refuses everything but subscriptions, so this is the only way in. The
          // watch yields results as the gateway formatted them, which is what goes on the wire.
          subscribe: (args) => args.contextValue as AsyncIterableIterator<ExecutionResult>,
        },
        wss,
        options.keepAliveMs,
      );
    },
    async close() {
      if (!wss) return;
      for (const client of wss.clients) client.close(1001, 'Router shutting down');
      const server = wss;
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** graphql-ws's onConnect: the token in `connection_init` authenticates the socket once. */
async function openSession(hooks: Hooks, ctx: SocketContext): Promise<boolean> {
  const { socket, request } = ctx.extra;
  const authorization = readAuthorization(ctx.connectionParams);
  if (!authorization) {
    socket.close(CloseCode.Unauthorized, 'Unauthorized: no token in connection_init');
    return false;
  }
  const token = await hooks.authenticate(authorization);
  // graphql-ws closes with 4403 Forbidden.
  if (!token) return false;
  // Closed while the token was checked: no close event is left to give places back.
  if (socket.readyState !== socket.OPEN) return false;
  const release = hooks.guards.takeUserSocket(socket, token.userId);
  if (!release) return false;
  const stopExpiry = closeAtExpiry(socket, token.expiresAt);
  socket.once('close', () => {
    release();
    stopExpiry();
  });
  hooks.sessions.set(socket, {
    authorization,
    token,
    clientAddress: clientAddress(request, hooks.options.trustedProxyHops),
  });
  return true;
}

/**
 * graphql-ws's onSubscribe: checks the session and the limits, plans the subscription, and
 * starts its watch, the source graphql-ws then pulls the subscription's results from.
 */
async function startWatch(hooks: Hooks, ctx: SocketContext, payload: SubscribePayload) {
  const { schema } = hooks.options;
  const session = hooks.sessions.get(ctx.extra.socket);
  if (!session) return [graphqlError(ErrorCode.UNAUTHENTICATED, 'Not authenticated')];
  // The token may have expired since connection_init.
  if (!(await hooks.authenticate(session.authorization))) {
    return [graphqlError(ErrorCode.UNAUTHENTICATED, 'Token expired; reconnect')];
  }
  // graphql-ws has already counted this subscription in ctx.subscriptions.
  const tooMany = hooks.guards.checkPerConnection(Object.keys(ctx.subscriptions).length);
  if (tooMany) return tooMany;
  const planned = planSubscription(schema, payload, hooks.validation);
  if (!('plan' in planned)) return planned;

  // From here to the watch nothing waits, so places cannot be taken twice.
  const { userId } = session.token;
  const release = hooks.guards.takeSubscription(userId, session.clientAddress);
  if (typeof release !== 'function') return release;
  const watch = createConversionWatch({
    plan: planned.plan,
    ownerId: userId,
    events: hooks.options.events,
    run: hooks.queries.runFor({
      authorization: session.authorization,
      userId,
      clientAddress: session.clientAddress,
    }),
    onClose: release,
  });
  const first = await watch.start();
  if (first.kind === 'refused') return first.errors.map(toGraphQLError);
  return {
    schema,
    document: planned.document,
    operationName: payload.operationName,
    variableValues: planned.variableValues,
    contextValue: watch,
  };
}

function toGraphQLError(error: GraphQLFormattedError): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.path ? { path: error.path } : {}),
    ...(error.extensions ? { extensions: error.extensions } : {}),
  });
}
