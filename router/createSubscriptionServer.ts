import type { Server } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import {
  GraphQLError,
  Kind,
  getOperationAST,
  getVariableValues,
  parse,
  specifiedRules,
  validate,
  type DocumentNode,
  type ExecutionResult,
  type FormattedExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type ValidationRule,
} from 'graphql';
import { CloseCode, type SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Counter, Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, SocketCloseCode, graphqlError } from '../lib/contracts/errors.js';
import {
  authenticateHeader,
  type TokenVerifier,
  type VerifiedToken,
} from '../lib/server/createTokenVerifier.js';
import { addressBlock } from '../lib/server/addressBlock.js';
import { clientAddress } from '../lib/server/http.js';
import type { Logger } from '../lib/platform/logger.js';
import type { ConversionEvents } from './createConversionEvents.js';
import { createConversionWatch } from './createConversionWatch.js';
import { createKeyedLimit } from './createKeyedLimit.js';
import { createQueryBudget } from './createQueryBudget.js';
import { createSharedQueries } from './createSharedQueries.js';
import {
  planConversionWatch,
  refuseConditionalRoot,
  type ConversionWatchPlan,
} from './planConversionWatch.js';
import type { RouterContext } from './RouterContext.js';

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

/** setTimeout's longest delay; a token may live longer (JWT_TTL_SECONDS, up to 30 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
  const hideSuggestions = !options.introspection;
  const rules = options.introspection ? specifiedRules : [...specifiedRules, NoIntrospectionRule];
  const sessions = new WeakMap<WebSocket, Session>();
  const active = new Gauge({
    name: 'graphql_subscriptions_active',
    help: 'Subscriptions this router is serving',
    registers: [options.registry],
  });
  const sockets = new Gauge({
    name: 'graphql_websockets_open',
    help: 'graphql-ws sockets open on this router',
    registers: [options.registry],
  });
  const refusals = new Counter({
    name: 'graphql_subscription_refusals_total',
    help: 'Sockets and subscriptions refused by a per-user, per-address or per-socket limit',
    labelNames: ['limit'],
    registers: [options.registry],
  });
  const gatewayQueries = new Counter({
    name: 'graphql_subscription_queries_total',
    help: 'Queries run through the gateway to answer subscriptions',
    registers: [options.registry],
  });

  const socketsPerUser = createKeyedLimit(limits.socketsPerUser);
  const socketsPerAddress = createKeyedLimit(limits.socketsPerAddress);
  const subscriptionsPerUser = createKeyedLimit(limits.subscriptionsPerUser);
  const subscriptionsPerAddress = createKeyedLimit(limits.subscriptionsPerAddress);
  const queries = createSharedQueries({
    execute: (context, query, variables) => runQuery(apollo, context, query, variables, log),
    budget: createQueryBudget({ perSecond: limits.queriesPerUserPerSecond }),
    onRun: () => gatewayQueries.inc(),
  });

  /** Closes a socket past a limit: 4429, which graphql-ws clients do not retry. */
  const refuseSocket = (socket: WebSocket, reason: LimitReason, limit: number) => {
    refusals.inc({ limit: reason });
    socket.close(SocketCloseCode.TOO_MANY_SOCKETS, `At most ${limit} ${LIMITED[reason]}`);
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

  let wss: WebSocketServer | undefined;

  const authenticate = async (authorization: string) =>
    authenticateHeader(options.verifyToken, authorization).catch(() => undefined);

  return {
    attach(server) {
      wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxMessageBytes });
      // Registered before graphql-ws's own listener, so a refused socket is closed before
      // graphql-ws reads anything from it.
      wss.on('connection', (socket, request) => {
        sockets.inc();
        // graphql-ws listens for a socket's first error only; a client's bad frames must never
        // reach an emitter with no listener.
        socket.on('error', (error) => log.debug({ err: error }, 'websocket client error'));
        // Counted before any token is read: anonymous sockets take places too, for the 5 s
        // they have to send connection_init. By address block: an IPv6 /64 is one client.
        const release = socketsPerAddress.take(
          addressBlock(clientAddress(request, options.trustedProxyHops)),
        );
        if (!release) return refuseSocket(socket, 'SOCKETS_PER_ADDRESS', socketsPerAddress.limit);
        socket.once('close', release);
      });
      wss.on('error', (error) => log.warn({ err: error }, 'websocket server error'));
      useServer<Record<string, unknown> | undefined>(
        {
          schema,
          connectionInitWaitTimeout: 5_000,
          async onConnect(ctx) {
            const { socket, request } = ctx.extra;
            const authorization = readAuthorization(ctx.connectionParams);
            if (!authorization) {
              socket.close(CloseCode.Unauthorized, 'Unauthorized: no token in connection_init');
              return false;
            }
            const token = await authenticate(authorization);
            // graphql-ws closes with 4403 Forbidden.
            if (!token) return false;
            // Closed while the token was checked: no close event is left to give places back.
            if (socket.readyState !== socket.OPEN) return false;
            const release = socketsPerUser.take(token.userId);
            if (!release) {
              refuseSocket(socket, 'SOCKETS_PER_USER', socketsPerUser.limit);
              return false;
            }
            const stopExpiry = closeAtExpiry(socket, token.expiresAt);
            socket.once('close', () => {
              release();
              stopExpiry();
            });
            sessions.set(socket, {
              authorization,
              token,
              clientAddress: clientAddress(request, options.trustedProxyHops),
            });
            return true;
          },
          onClose: () => {
            sockets.dec();
          },
          async onSubscribe(ctx, _id, payload) {
            const { socket } = ctx.extra;
            const session = sessions.get(socket);
            if (!session) return [graphqlError(ErrorCode.UNAUTHENTICATED, 'Not authenticated')];
            // The token may have expired since connection_init.
            if (!(await authenticate(session.authorization))) {
              return [graphqlError(ErrorCode.UNAUTHENTICATED, 'Token expired; reconnect')];
            }
            // graphql-ws has already counted this subscription in ctx.subscriptions.
            if (Object.keys(ctx.subscriptions).length > limits.perConnection) {
              return refuseSubscription('SUBSCRIPTIONS_PER_CONNECTION', limits.perConnection);
            }
            const planned = planSubscription(schema, payload, { rules, hideSuggestions });
            if (!('plan' in planned)) return planned;

            // From here to the watch nothing waits, so places cannot be taken twice.
            const { userId } = session.token;
            const releaseUser = subscriptionsPerUser.take(userId);
            if (!releaseUser) {
              return refuseSubscription('SUBSCRIPTIONS_PER_USER', subscriptionsPerUser.limit);
            }
            const releaseAddress = subscriptionsPerAddress.take(
              addressBlock(session.clientAddress),
            );
            if (!releaseAddress) {
              releaseUser();
              return refuseSubscription('SUBSCRIPTIONS_PER_ADDRESS', subscriptionsPerAddress.limit);
            }
            active.inc();
            const watch = createConversionWatch({
              plan: planned.plan,
              ownerId: userId,
              events: options.events,
              run: queries.runFor({
                authorization: session.authorization,
                userId,
                clientAddress: session.clientAddress,
              }),
              onClose: () => {
                active.dec();
                releaseUser();
                releaseAddress();
              },
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
          },
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

/**
 * Parses, validates and plans one `subscribe` payload, or answers the errors to refuse it with
 * (the codes Apollo gives the same errors over HTTP, so clients handle both alike).
 */
function planSubscription(
  schema: GraphQLSchema,
  payload: SubscribePayload,
  validation: { rules: readonly ValidationRule[]; hideSuggestions: boolean },
):
  | { plan: ConversionWatchPlan; document: DocumentNode; variableValues: Record<string, unknown> }
  | readonly GraphQLError[] {
  let document: DocumentNode;
  try {
    document = parse(payload.query);
  } catch (error) {
    return [graphqlError(ErrorCode.BAD_REQUEST, (error as Error).message)];
  }
  let invalid: readonly GraphQLError[];
  try {
    refuseConditionalRoot(getOperationAST(document, payload.operationName));
    invalid = validate(schema, document, validation.rules, {
      hideSuggestions: validation.hideSuggestions,
    });
  } catch (error) {
    // A rule that throws (graphql-js 16's single-field rule can) must not end the socket.
    if (!(error instanceof GraphQLError)) throw error;
    return [error.extensions.code ? error : withValidationCode(error)];
  }
  if (invalid.length > 0) return invalid.map(withValidationCode);
  const operation = document.definitions.find(
    (d) =>
      d.kind === Kind.OPERATION_DEFINITION &&
      (payload.operationName == null || d.name?.value === payload.operationName),
  );
  const coerced = getVariableValues(
    schema,
    operation?.kind === Kind.OPERATION_DEFINITION ? (operation.variableDefinitions ?? []) : [],
    payload.variables ?? {},
    { hideSuggestions: validation.hideSuggestions },
  );
  if (coerced.errors) return coerced.errors.map(withBadInputCode);
  try {
    const plan = planConversionWatch(schema, document, payload.operationName, coerced.coerced);
    return { plan, document, variableValues: coerced.coerced };
  } catch (error) {
    if (error instanceof GraphQLError) return [error];
    throw error;
  }
}

/**
 * Closes the socket with 4403, as for a refused token, once `expiresAt` has passed: a
 * subscription answers with the token it was opened with, so it must not outlive it. Returns
 * the function that cancels it.
 */
function closeAtExpiry(socket: WebSocket, expiresAt: Date): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const check = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left > 0) {
      timer = setTimeout(check, Math.min(left, MAX_TIMER_MS));
      return;
    }
    socket.close(CloseCode.Forbidden, 'Forbidden: token expired');
  };
  check();
  return () => clearTimeout(timer);
}

/**
 * `{ authorization: "Bearer …" }` as the SDK and the docs send it; `Authorization` and a
 * `headers` object are accepted too, as other clients (and Sandbox's header panel) send them.
 */
function readAuthorization(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  const headers = params.headers;
  const candidates = [
    params.authorization,
    params.Authorization,
    typeof headers === 'object' && headers !== null
      ? ((headers as Record<string, unknown>).authorization ??
        (headers as Record<string, unknown>).Authorization)
      : undefined,
  ];
  const found = candidates.find((value) => typeof value === 'string' && value !== '');
  return found as string | undefined;
}

async function runQuery(
  apollo: ApolloServer<RouterContext>,
  context: RouterContext,
  query: string,
  variables: Record<string, unknown>,
  log: Logger,
): Promise<FormattedExecutionResult> {
  try {
    const response = await apollo.executeOperation({ query, variables }, { contextValue: context });
    if (response.body.kind !== 'single') throw new Error('unexpected incremental response');
    return response.body.singleResult;
  } catch (error) {
    log.error({ err: error }, 'subscription query failed');
    return {
      errors: [
        { message: 'Internal server error', extensions: { code: ErrorCode.INTERNAL_SERVER_ERROR } },
      ],
    };
  }
}

function toGraphQLError(error: GraphQLFormattedError): GraphQLError {
  return new GraphQLError(error.message, {
    ...(error.path ? { path: error.path } : {}),
    ...(error.extensions ? { extensions: error.extensions } : {}),
  });
}

/**
 * Introspection refused as Apollo Server refuses it over HTTP: once per `__schema` or `__type`
 * (graphql-js's NoSchemaIntrospectionCustomRule would also name every field below them).
 */
const NoIntrospectionRule: ValidationRule = (context) => ({
  Field(node) {
    if (node.name.value !== '__schema' && node.name.value !== '__type') return;
    context.reportError(
      new GraphQLError('Introspection is off: the operation selects __schema or __type', {
        nodes: node,
      }),
    );
  },
});

/** The code Apollo gives the same errors over HTTP, so clients handle both alike. */
function withValidationCode(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
  });
}

function withBadInputCode(error: GraphQLError): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes ?? null,
    extensions: { code: ErrorCode.BAD_USER_INPUT },
  });
}
