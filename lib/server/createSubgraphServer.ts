import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper/index.js';
import { GraphQLError, parse, type GraphQLFormattedError } from 'graphql';
import { createGraphQLHandler } from './createGraphQLHandler.js';
import { createOperationGuardPlugin, type OperationLimits } from './createOperationGuardPlugin.js';
import { authenticateHeader, type TokenVerifier } from './createTokenVerifier.js';
import { ErrorCode, graphqlError } from '../contracts/errors.js';
import { bodyDigest, CLIENT_REQUEST_BYTES_HEADER, type InternalHop } from './createInternalHop.js';
import {
  answerBodyError,
  clientAddress,
  closeAfterAnswer,
  readBody,
  sendError,
  type Route,
  type RouteHandler,
} from './http.js';
import type { Logger } from '../platform/logger.js';
import type { RunningService } from '../platform/runMain.js';
import { isDatabaseUnavailable } from '../platform/mongo.js';

/** What every subgraph resolver receives. */
export interface SubgraphContext {
  /** The verified caller, or undefined for an anonymous request. */
  userId: string | undefined;
  /** The end client's address as the router saw it. */
  clientAddress: string;
  /**
   * The size of the client's whole request as the router received it (CLIENT_REQUEST_BYTES_HEADER),
   * where it declared one: an upload's file is no larger.
   */
  clientRequestBytes?: number;
  log: Logger;
}

export type SubgraphResolvers = GraphQLResolverMap<SubgraphContext>;

/** What a subgraph's server.ts builds for runService: its two listeners and its stop. */
export type SubgraphProcess = Pick<RunningService, 'listener' | 'internalListener' | 'stop'>;

export interface SubgraphServerOptions {
  sdlPath: string;
  resolvers: SubgraphResolvers;
  verifyToken: TokenVerifier;
  log: Logger;
  maxBodyBytes: number;
  operationLimits: OperationLimits;
  /** Only the router's signed requests are answered, and only they name a client address. */
  hop: InternalHop;
  /**
   * Takes multipart requests (uploads) before JSON parsing; see createGraphQLHandler. Given,
   * the route also accepts the router's signature of a streamed upload (see HopBody).
   */
  parseBody?: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>;
}

/**
 * A subgraph's Apollo Server and its `/graphql` route. Tokens are verified here again, not
 * trusted from the router: a subgraph reached directly must be exactly as strict.
 */
export async function createSubgraphServer(
  options: SubgraphServerOptions,
): Promise<{ apollo: ApolloServer<SubgraphContext>; route: Route }> {
  const { log } = options;
  const typeDefs = parse(readFileSync(options.sdlPath, 'utf8'));
  const apollo = new ApolloServer<SubgraphContext>({
    schema: buildSubgraphSchema([{ typeDefs, resolvers: options.resolvers }]),
    plugins: [
      ApolloServerPluginInlineTraceDisabled(),
      createOperationGuardPlugin(options.operationLimits),
    ],
    includeStacktraceInErrorResponses: false,
    // runMain owns SIGTERM: drain HTTP first, then stop Apollo, then close connections.
    stopOnTerminationSignals: false,
    formatError: (formatted, error) => maskInternalError(formatted, error, log),
  });
  await apollo.start();

  const handler = createGraphQLHandler(apollo, {
    maxBodyBytes: options.maxBodyBytes,
    ...(options.parseBody ? { parseBody: options.parseBody } : {}),
    context: async (req) => {
      const declared = Number(req.headers[CLIENT_REQUEST_BYTES_HEADER]);
      return {
        userId: (await authenticateHeader(options.verifyToken, req.headers.authorization))?.userId,
        // routerOnly lets only the router's signed requests this far: its headers hold.
        clientAddress: clientAddress(req, 1),
        ...(Number.isSafeInteger(declared) && declared >= 0
          ? { clientRequestBytes: declared }
          : {}),
        log,
      };
    },
  });
  return {
    apollo,
    route: {
      methods: ['GET', 'POST'],
      path: '/graphql',
      handler: routerOnly(options.hop, handler, {
        maxBodyBytes: options.maxBodyBytes,
        streamedUploads: options.parseBody !== undefined,
      }),
    },
  };
}

export interface RouterOnlyOptions {
  /** Largest body read to check its digest against the signature (413 beyond). */
  maxBodyBytes: number;
  /**
   * Whether a multipart request may come signed as a streamed upload, its bytes unsigned
   * (media's GraphQL route; the parser then insists on one file). Elsewhere every body is
   * read and checked whole.
   */
  streamedUploads?: boolean;
}

/**
 * A handler for the router's signed requests only; anyone else gets 403 FORBIDDEN. The
 * signature must be recent and fit this very request: method, path and query, the headers it
 * believes (SIGNED_HEADERS), and the body's SHA-256, read here (the handler reads the same
 * bytes again), or for a streamed upload its Content-Type. Only behind it may
 * `clientAddress(req, 1)` believe the router's X-Forwarded-For.
 */
export function routerOnly(
  hop: InternalHop,
  handler: RouteHandler,
  options: RouterOnlyOptions,
): RouteHandler {
  const refuse: RouteHandler = (req, res) => {
    // Answered before its body was read (an upload, say): close in stages, as for any such.
    if (!req.complete) closeAfterAnswer(req, res);
    sendError(res, ErrorCode.FORBIDDEN, 'This service answers the router only');
  };
  return async (req, res) => {
    // A missing, malformed or stale signature is refused before any body is read.
    if (!hop.isRecent(req)) return refuse(req, res);
    const contentType = req.headers['content-type'] ?? '';
    if (options.streamedUploads && /^multipart\/form-data\b/i.test(contentType)) {
      if (!hop.verify(req, { streamedUpload: contentType })) return refuse(req, res);
      return handler(req, res);
    }
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes);
    } catch (error) {
      if (answerBodyError(req, res, error)) return;
      throw error;
    }
    if (!hop.verify(req, bodyDigest(body))) return refuse(req, res);
    return handler(req, res);
  };
}

/** Errors without a code of ours are bugs or outages: log them whole, show the client little. */
export function maskInternalError(
  formatted: GraphQLFormattedError,
  error: unknown,
  log: Logger,
): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && code !== ErrorCode.INTERNAL_SERVER_ERROR) return formatted;
  const original = error instanceof GraphQLError ? error.originalError : error;
  const coded = (code: ErrorCode, message: string): GraphQLFormattedError => ({
    message,
    extensions: { code },
    ...(formatted.path ? { path: formatted.path } : {}),
  });
  if (isDatabaseUnavailable(original)) {
    log.warn({ err: original }, 'database unavailable');
    return coded(ErrorCode.SERVICE_UNAVAILABLE, 'The database is unavailable; try again shortly');
  }
  log.error({ err: error }, 'internal error in resolver');
  return coded(ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
}

/** The signed-in user's id, or UNAUTHENTICATED. */
export function requireUser(context: SubgraphContext): string {
  if (context.userId === undefined) {
    throw graphqlError(ErrorCode.UNAUTHENTICATED, 'Sign in first: send Authorization: Bearer …');
  }
  return context.userId;
}
