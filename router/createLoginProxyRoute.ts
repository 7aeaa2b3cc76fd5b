import { request, type IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ErrorCode } from '../lib/errors.js';
import { clientAddress, sendError, type Route } from '../lib/http.js';

/** Headers passed back from auth's answer (a login response is small and never cached). */
const ANSWER_HEADERS = [
  'content-type',
  'content-length',
  'www-authenticate',
  'retry-after',
  'cache-control',
];

/** `POST /auth/login` (HTTP Basic) relayed to the auth subgraph with the client's address. */
export function createLoginProxyRoute(authUrl: string, trustedProxyHops: number): Route {
  const target = new URL('/auth/login', authUrl);
  return {
    methods: ['POST'],
    path: '/auth/login',
    async handler(req, res) {
      const upstream = request(target, {
        method: 'POST',
        headers: {
          ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
          'x-forwarded-for': clientAddress(req, trustedProxyHops),
          'content-length': '0',
        },
        timeout: 10_000,
      });
      upstream.on('timeout', () => upstream.destroy(new Error('auth did not answer in time')));
      try {
        const answer = await new Promise<IncomingMessage>((resolve, reject) => {
          upstream.once('response', resolve).once('error', reject).end();
        });
        for (const name of ANSWER_HEADERS) {
          const value = answer.headers[name];
          if (value !== undefined) res.setHeader(name, value);
        }
        res.statusCode = answer.statusCode ?? 502;
        await pipeline(answer, res);
      } catch {
        if (!res.headersSent) sendError(res, ErrorCode.SERVICE_UNAVAILABLE, 'Auth is unavailable');
      }
    },
  };
}
