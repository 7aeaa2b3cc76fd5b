import { Agent, request, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ErrorCode } from '../lib/contracts/errors.js';
import { bodyDigest, type HopBody, type HopSigner } from '../lib/server/createInternalHop.js';
import { clientAddress, closeAfterAnswer, sendError, type Route } from '../lib/server/http.js';

export interface ProxyRouteOptions {
  methods: readonly string[];
  path: string;
  /** Base URL of the process that really serves `path`. */
  target: string;
  /**
   * The upstream path for a request's (already normalised) path, rebuilt from the parts that
   * were checked, or undefined for 404. Never the client's string as it came: a path such as
   * `/files/%2e%2e/metrics` would otherwise reach another route of the upstream.
   */
  upstreamPath: (pathname: string) => string | undefined;
  /** Request headers passed on (the client's address is always added). */
  requestHeaders: readonly string[];
  /** Response headers passed back. */
  responseHeaders: readonly string[];
  trustedProxyHops: number;
  /** Signs each relayed request for the subgraph (see createInternalHop). */
  sign: HopSigner;
  /** Idle time, not total time: a 2 GB download may take long but never stalls this long. */
  idleTimeoutMs: number;
  /**
   * The request's body is streamed on (a resumable upload's bytes), signed as this says;
   * without it the request is relayed without a body.
   */
  streamBody?: (req: IncomingMessage) => HopBody;
  /** Whether the caller may be relayed at all (its bearer token); else 401 here. */
  authenticate?: (req: IncomingMessage) => Promise<boolean>;
}

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Relays plain HTTP routes to the subgraph that owns them (`/auth/login` to auth, `/files/*`
 * to media), streaming both ways with backpressure: a slow client slows the upstream read
 * instead of filling the router's memory. A client that goes away aborts the upstream request.
 */
export function createProxyRoute(options: ProxyRouteOptions): Route {
  return {
    methods: options.methods,
    path: options.path,
    async handler(req, res) {
      const headers: Record<string, string> = {
        'x-forwarded-for': clientAddress(req, options.trustedProxyHops),
      };
      for (const name of options.requestHeaders) {
        const value = req.headers[name];
        if (typeof value === 'string') headers[name] = value;
      }
      const asked = new URL(req.url ?? '/', 'http://router.invalid');
      const path = options.upstreamPath(asked.pathname);
      if (path === undefined) {
        sendError(res, ErrorCode.NOT_FOUND, `No route for ${asked.pathname}`);
        return;
      }
      if (options.authenticate && !(await options.authenticate(req).catch(() => false))) {
        if (!req.complete) closeAfterAnswer(req, res);
        sendError(res, ErrorCode.UNAUTHENTICATED, 'Send Authorization: Bearer <token>');
        return;
      }
      const target = new URL(`${path}${asked.search}`, options.target);
      const method = req.method ?? 'GET';
      const streamed = options.streamBody?.(req);
      // Relayed without a body, or with the client's streamed on: the signature says which.
      const signature = options.sign({
        method,
        target: `${target.pathname}${target.search}`,
        headers,
        body: streamed ?? bodyDigest(''),
      });
      const upstream = request(target, {
        method,
        headers: { ...headers, ...signature, ...(streamed ? {} : { 'content-length': '0' }) },
        agent,
        timeout: options.idleTimeoutMs,
      });
      upstream.on('timeout', () => upstream.destroy(new Error('upstream idle timeout')));
      res.on('close', () => {
        if (!res.writableFinished) upstream.destroy();
      });
      let answer: IncomingMessage;
      try {
        answer = await new Promise<IncomingMessage>((resolve, reject) => {
          upstream.once('response', resolve).on('error', reject);
          if (!streamed) upstream.end();
          // A client that stops sending mid-body fails the upstream request, which then ends.
          else req.pipe(upstream).once('error', reject);
        });
      } catch {
        if (!res.headersSent)
          sendError(
            res,
            ErrorCode.SERVICE_UNAVAILABLE,
            'The service behind this route is unavailable',
          );
        return;
      }
      // Answered before the body was all sent (a refusal): the rest is not read.
      if (streamed && !req.complete) {
        req.unpipe(upstream);
        closeAfterAnswer(req, res);
      }
      for (const name of options.responseHeaders) {
        const value = answer.headers[name];
        if (value !== undefined) res.setHeader(name, value);
      }
      res.statusCode = answer.statusCode ?? 502;
      await pipeline(answer, res).catch(() => res.destroy());
    },
  };
}
