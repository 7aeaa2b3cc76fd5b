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
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { Gauge, type Registry } from 'prom-client';
import { WebSocketServer, type WebSocket } from 'ws';
import { ErrorCode, graphqlError } from '../lib/contracts/errors.js';
import {
  authenticateHeader,
  type TokenVerifier,
  type VerifiedToken,
} from '../lib/server/createTokenVerifier.js';
import { clientAddress } from '../lib/server/http.js';
import type { Logger } from '../lib/platform/logger.js';
import type { ConversionEvents } from './createConversionEvents.js';
import { createConversionWatch, type RunQuery } from './createConversionWatch.js';
import { planConversionWatch, refuseConditionalRoot } from './planConversionWatch.js';
import type { RouterContext } from './RouterContext.js';

export interface SubscriptionServerOptions {
  apollo: ApolloServer<RouterContext>;
  /** The public API schema, to validate subscriptions against. */
  schema: GraphQLSchema;
  verifyToken: TokenVerifier;
  events: ConversionEvents;
  trustedProxyHops: number;
  maxSubscriptionsPerConnection: number;
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

/**
 * graphql-ws on the router's own port and path. `@apollo/gateway` cannot run subscriptions, so
 * the router answers `conversionUpdated` itself: it authenticates the socket once (token in
 * `connection_init`), and for each subscription runs the subscriber's selection as a query
 * through the gateway with the subscriber's credentials, at the start and after each event.
 */
export function createSubscriptionServer(options: SubscriptionServerOptions): SubscriptionServer {
  const { apollo, schema, log } = options;
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

  // Subscribers of the same conversion with the same credentials and selection share one
  // query per wake-up: one event fans out to many sockets without multiplying gateway work.
  const inFlight = new Map<string, Promise<FormattedExecutionResult>>();
  const runShared = (context: RouterContext): RunQuery => {
    return (query, variables) => {
      const key = `${context.authorization ?? ''}\n${query}\n${JSON.stringify(variables)}`;
      let result = inFlight.get(key);
      if (!result) {
        result = runQuery(apollo, context, query, variables, log).finally(() =>
          inFlight.delete(key),
        );
        inFlight.set(key, result);
      }
      return result;
    };
  };

  let wss: WebSocketServer | undefined;

  const authenticate = async (authorization: string) =>
    authenticateHeader(options.verifyToken, authorization).catch(() => undefined);

  return {
    attach(server) {
      wss = new WebSocketServer({ server, path: '/graphql', maxPayload: options.maxMessageBytes });
      wss.on('connection', (socket) => {
        sockets.inc();
        // graphql-ws listens for a socket's first error only; a client's bad frames must never
        // reach an emitter with no listener.
        socket.on('error', (error) => log.debug({ err: error }, 'websocket client error'));
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
            if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerConnection) {
              return [
                graphqlError(
                  ErrorCode.RATE_LIMITED,
                  `At most ${options.maxSubscriptionsPerConnection} subscriptions per connection`,
                ),
              ];
            }

            let document: DocumentNode;
            try {
              document = parse(payload.query);
            } catch (error) {
              return [graphqlError(ErrorCode.BAD_REQUEST, (error as Error).message)];
            }
            let invalid: readonly GraphQLError[];
            try {
              refuseConditionalRoot(getOperationAST(document, payload.operationName));
              invalid = validate(schema, document, specifiedRules);
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
              operation?.kind === Kind.OPERATION_DEFINITION
                ? (operation.variableDefinitions ?? [])
                : [],
              payload.variables ?? {},
            );
            if (coerced.errors) return coerced.errors.map(withBadInputCode);

            let plan;
            try {
              plan = planConversionWatch(schema, document, payload.operationName, coerced.coerced);
            } catch (error) {
              if (error instanceof GraphQLError) return [error];
              throw error;
            }
            const context: RouterContext = {
              authorization: session.authorization,
              userId: session.token.userId,
              clientAddress: session.clientAddress,
            };
            active.inc();
            const watch = createConversionWatch({
              plan,
              ownerId: session.token.userId,
              events: options.events,
              run: runShared(context),
              onClose: () => active.dec(),
            });
            const first = await watch.start();
            if (first.kind === 'refused') return first.errors.map(toGraphQLError);
            return {
              schema,
              document,
              operationName: payload.operationName,
              variableValues: coerced.coerced,
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
