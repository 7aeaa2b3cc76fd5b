import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import { ErrorCode } from '../contracts/errors.js';
import {
  answerBodyError,
  closeAfterAnswer,
  readBody,
  sendError,
  type RouteHandler,
} from './http.js';

export interface GraphQLHandlerOptions<TContext extends BaseContext> {
  context: (req: IncomingMessage) => Promise<TContext>;
  /** Largest JSON request body accepted, in bytes. */
  maxBodyBytes: number;
  /**
   * Takes requests this handler does not parse itself (multipart uploads), returning the
   * parsed GraphQL body, or undefined to fall through to JSON parsing.
   */
  parseBody?: (req: IncomingMessage, res: ServerResponse) => Promise<unknown>;
}

/**
 * Serves an ApolloServer on Node's own HTTP server: the few lines an integration package
 * would add, without Express. Body limits answer 413 with PAYLOAD_TOO_LARGE before Apollo
 * sees anything; everything else (CSRF prevention, landing page, errors) is Apollo's.
 */
export function createGraphQLHandler<TContext extends BaseContext>(
  server: ApolloServer<TContext>,
  options: GraphQLHandlerOptions<TContext>,
): RouteHandler {
  return async (req, res) => {
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = new URL(req.url ?? '/', 'http://localhost');

    let body: unknown;
    if (req.method === 'POST') {
      body = await options.parseBody?.(req, res);
      if (res.writableEnded) return;
      if (body === undefined) {
        try {
          body = parseJson(await readBody(req, options.maxBodyBytes), headers);
        } catch (error) {
          if (answerBodyError(req, res, error)) return;
          if (error instanceof SyntaxError) {
            sendError(res, ErrorCode.BAD_REQUEST, `Malformed JSON body: ${error.message}`);
            return;
          }
          throw error;
        }
      }
    }

    const response = await server.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
      context: () => options.context(req),
    });

    for (const [key, value] of response.headers) res.setHeader(key, value);
    if (!req.complete) closeAfterAnswer(req, res);
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

function parseJson(raw: Buffer, headers: HeaderMap): unknown {
  // Apollo decides what to do with non-JSON content types (CSRF prevention refuses them).
  if (!headers.get('content-type')?.includes('json') || raw.length === 0) return raw.toString();
  return JSON.parse(raw.toString('utf8')) as unknown;
}
