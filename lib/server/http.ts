import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode, errorBody, httpStatusFor } from '../contracts/errors.js';
import type { Logger } from '../platform/logger.js';
import type { Metrics } from '../platform/metrics.js';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

export interface Route {
  /** Methods this route answers; others get 405. */
  methods: readonly string[];
  /** An exact path, or a prefix when it ends with `/*`. */
  path: string;
  handler: RouteHandler;
}

/** A named check behind /readyz: resolves when the dependency answers, throws when not. */
export type ReadinessCheck = readonly [name: string, check: () => Promise<void>];

export interface HttpAppOptions {
  routes: readonly Route[];
  metrics: Metrics;
  log: Logger;
}

export interface InternalAppOptions {
  readiness: readonly ReadinessCheck[];
  /**
   * Checks of what the process can serve without: a failure is listed under `degraded` in
   * /readyz's answer and leaves the process ready, so that an outage there takes out only the
   * features it serves.
   */
  advisory?: readonly ReadinessCheck[];
  metrics: Metrics;
  log: Logger;
}

/**
 * The request listener of a process's public port: its own routes and nothing else (health,
 * readiness and metrics are on the internal port, see createInternalApp). Unhandled handler
 * errors become a 500 with a code, never a hung socket.
 */
export function createHttpApp(options: HttpAppOptions): RequestListener {
  return dispatch(options.routes, options.metrics, options.log);
}

/**
 * The request listener of a process's internal port, for probes and scrapers, never for
 * clients: /healthz (alive), /readyz (every dependency it needs reachable) and /metrics
 * (Prometheus).
 * Kept off the public port so that nobody outside learns the process's state or load, and
 * no path trick on a public route can reach them.
 */
export function createInternalApp(options: InternalAppOptions): RequestListener {
  const { metrics } = options;
  return dispatch(
    [
      {
        methods: ['GET', 'HEAD'],
        path: '/healthz',
        handler: (_req, res) => sendJson(res, 200, { status: 'ok' }),
      },
      {
        methods: ['GET', 'HEAD'],
        path: '/readyz',
        handler: async (_req, res) => {
          const [failures, degraded] = await Promise.all([
            checkReadiness(options.readiness),
            checkReadiness(options.advisory ?? []),
          ]);
          const extra = degraded.length > 0 ? { degraded } : {};
          if (failures.length === 0) sendJson(res, 200, { status: 'ready', ...extra });
          else sendJson(res, 503, { status: 'not ready', failures, ...extra });
        },
      },
      {
        methods: ['GET'],
        path: '/metrics',
        handler: async (_req, res) => {
          const body = await metrics.registry.metrics();
          res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body);
        },
      },
    ],
    metrics,
    options.log,
  );
}

/** Routes a request to the first route that matches its path, counting it in the metrics. */
function dispatch(routes: readonly Route[], metrics: Metrics, log: Logger): RequestListener {
  return (req, res) => {
    const started = process.hrtime.bigint();
    const path = requestPath(req);
    const route = routes.find((r) =>
      r.path.endsWith('/*') ? path.startsWith(r.path.slice(0, -1)) : r.path === path,
    );
    const label = route?.path ?? 'unmatched';
    res.on('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const method = req.method ?? 'GET';
      metrics.httpRequests.inc({ route: label, method, status: String(res.statusCode) });
      metrics.httpDuration.observe({ route: label, method }, seconds);
    });

    if (!route) {
      sendError(res, ErrorCode.NOT_FOUND, `No route for ${path}`);
      return;
    }
    if (!route.methods.includes(req.method ?? 'GET')) {
      res.setHeader('allow', route.methods.join(', '));
      sendError(res, ErrorCode.METHOD_NOT_ALLOWED, `Use ${route.methods.join(' or ')}`);
      return;
    }
    Promise.resolve()
      .then(() => route.handler(req, res))
      .catch((error: unknown) => {
        log.error({ err: error, path }, 'request handler failed');
        if (!res.headersSent) sendError(res, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal error');
        else res.destroy();
      });
  };
}

/** The request's path, without its query string. */
export function requestPath(req: IncomingMessage): string {
  return (req.url ?? '/').split('?', 1)[0] ?? '/';
}

async function checkReadiness(checks: readonly ReadinessCheck[]): Promise<string[]> {
  const results = await Promise.all(
    checks.map(async ([name, check]) => {
      try {
        await check();
        return undefined;
      } catch (error) {
        return `${name}: ${error instanceof Error ? error.message : String(error)}`;
      }
    }),
  );
  return results.filter((failure): failure is string => failure !== undefined);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  const text = errorBody(code, message);
  res
    .writeHead(httpStatusFor[code], {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}

/** How long a connection answered before its request ended goes on reading before it closes. */
const LINGER_MS = 2_000;

/**
 * Ends the connection of a request answered before its body was read whole (an upload refused
 * after its first bytes), in stages, as RFC 9112 §9.6 asks. Kept alive, the unread rest would
 * stall the connection until the request time limit, and Node would then answer 408 to the
 * next request on it. Closed at once (Node's way with `Connection: close`), a socket with
 * unread input sends a reset, which can overtake the answer and erase it at the peer before it
 * is read. So: send the answer and a FIN, read and drop what still comes, and close when the
 * peer does or after LINGER_MS. Call before the answer is sent.
 */
export function closeAfterAnswer(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('connection', 'close');
  const socket = req.socket;
  // Node ends a `Connection: close` response's socket through destroySoon (end, then destroy
  // once flushed); this socket's version ends it and waits instead.
  socket.destroySoon = function linger(this: Socket) {
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    // The peer is done too; close once the answer has left, as Node's own destroySoon would.
    this.once('end', () =>
      this.writableFinished ? this.destroy() : this.once('finish', () => this.destroy()),
    );
    this.once('close', () => clearTimeout(timer));
  };
  res.once('finish', () => {
    req.unpipe();
    req.resume();
  });
}

export class BodyTooLargeError extends Error {
  override name = 'BodyTooLargeError';
}

export class BodyTimeoutError extends Error {
  override name = 'BodyTimeoutError';
}

const bodies = new WeakMap<IncomingMessage, Promise<Buffer>>();

/**
 * Reads a request body into memory, refusing more than `limit` bytes or a body still
 * arriving after `timeoutMs` (a small body that trickles in holds a connection for nothing;
 * uploads, which take long, are streamed elsewhere and never read here). Rejects early on a
 * declared Content-Length over the limit so a large body is never read at all. Reading the
 * same request again gives the same bytes, or the same error: a check in front of a handler
 * (the subgraphs' check of the router's signature) reads it first.
 */
export function readBody(req: IncomingMessage, limit: number, timeoutMs = 20_000): Promise<Buffer> {
  let body = bodies.get(req);
  if (body === undefined) {
    body = readBodyOnce(req, limit, timeoutMs);
    bodies.set(req, body);
  }
  return body;
}

async function readBodyOnce(
  req: IncomingMessage,
  limit: number,
  timeoutMs: number,
): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(`Request body over ${limit} bytes`);
  const read = (async () => {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) throw new BodyTooLargeError(`Request body over ${limit} bytes`);
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  })();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BodyTimeoutError(`Request body not received within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  // Once late, the read goes on only to be dropped (see closeAfterAnswer).
  read.catch(() => undefined);
  try {
    return await Promise.race([read, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Answers a request whose body readBody refused (413 too large, 408 too slow), closing the
 * connection in stages since the rest will not be read; false for any other error.
 */
export function answerBodyError(
  req: IncomingMessage,
  res: ServerResponse,
  error: unknown,
): boolean {
  if (error instanceof BodyTooLargeError) {
    closeAfterAnswer(req, res);
    sendError(res, ErrorCode.PAYLOAD_TOO_LARGE, error.message);
    return true;
  }
  if (error instanceof BodyTimeoutError) {
    closeAfterAnswer(req, res);
    sendError(res, ErrorCode.REQUEST_TIMEOUT, error.message);
    return true;
  }
  return false;
}

/**
 * The caller's address. `trustedHops` is how many proxies in front of this process append to
 * X-Forwarded-For and can be believed: 0 takes the socket's peer, 1 the last entry (what the
 * one trusted proxy saw), and so on. Entries further left are client-supplied and ignored.
 */
export function clientAddress(req: IncomingMessage, trustedHops: number): string {
  const peer = req.socket.remoteAddress ?? 'unknown';
  if (trustedHops === 0) return peer;
  const header = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  return chain[chain.length - trustedHops] ?? chain[0] ?? peer;
}
