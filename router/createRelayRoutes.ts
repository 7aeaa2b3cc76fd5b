import type { IncomingMessage } from 'node:http';
import { resumableUploadBody, type HopSigner } from '../lib/server/createInternalHop.js';
import type { RouterConfig } from './config.js';
import { createProxyRoute } from './createProxyRoute.js';

/**
 * The plain-HTTP relays beside GraphQL: resumable uploads (tus 1.0, `/uploads/`, their bytes
 * streamed on, for a caller with a valid bearer token) to media, the HTTP Basic login to auth, file downloads from
 * media (only `/files/videos/<id>` and `/files/audio/<id>`), and the two links of
 * notification mails (confirm an address, unsubscribe in one click), each signed as the
 * router's.
 */
export function createRelayRoutes(
  config: RouterConfig,
  sign: HopSigner,
  authenticate: (req: IncomingMessage) => Promise<boolean>,
) {
  return [
    createProxyRoute({
      methods: ['OPTIONS', 'POST', 'HEAD', 'PATCH', 'DELETE'],
      path: '/uploads/*',
      target: config.subgraphUrls.media,
      upstreamPath: (pathname) => {
        if (pathname === '/uploads/') return pathname;
        const match = /^\/uploads\/([0-9a-fA-F]{24})$/.exec(pathname);
        return match ? `/uploads/${match[1]?.toLowerCase()}` : undefined;
      },
      requestHeaders: [
        'authorization',
        'content-type',
        'content-length',
        'transfer-encoding',
        'tus-resumable',
        'upload-offset',
        'upload-length',
        'upload-defer-length',
        'upload-metadata',
        'upload-checksum',
      ],
      responseHeaders: [
        'content-type',
        'content-length',
        'cache-control',
        'retry-after',
        'location',
        'tus-resumable',
        'tus-version',
        'tus-extension',
        'tus-max-size',
        'tus-checksum-algorithm',
        'upload-offset',
        'upload-length',
        'upload-expires',
        'upload-metadata',
      ],
      trustedProxyHops: config.trustedProxyHops,
      sign,
      // A resumable upload's request may pause as long as any upload's, no longer.
      idleTimeoutMs: 60_000,
      streamBody: (req) => resumableUploadBody(req.headers),
      authenticate: (req) => (req.method === 'OPTIONS' ? Promise.resolve(true) : authenticate(req)),
    }),
    createProxyRoute({
      methods: ['POST'],
      path: '/auth/login',
      target: config.subgraphUrls.auth,
      upstreamPath: () => '/auth/login',
      requestHeaders: ['authorization'],
      responseHeaders: [
        'content-type',
        'content-length',
        'www-authenticate',
        'retry-after',
        'cache-control',
      ],
      trustedProxyHops: config.trustedProxyHops,
      sign,
      idleTimeoutMs: 10_000,
    }),
    createProxyRoute({
      methods: ['GET', 'HEAD'],
      path: '/files/*',
      target: config.subgraphUrls.media,
      upstreamPath: (pathname) => {
        const match = /^\/files\/(videos|audio)\/([0-9a-fA-F]{24})$/.exec(pathname);
        return match ? `/files/${match[1]}/${match[2]?.toLowerCase()}` : undefined;
      },
      requestHeaders: ['authorization', 'range', 'if-none-match'],
      responseHeaders: [
        'content-type',
        'content-length',
        'content-range',
        'content-disposition',
        'accept-ranges',
        'etag',
        'cache-control',
      ],
      trustedProxyHops: config.trustedProxyHops,
      sign,
      idleTimeoutMs: 30_000,
    }),
    createProxyRoute({
      methods: ['GET', 'POST'],
      path: '/notifications/*',
      target: config.subgraphUrls.notification,
      upstreamPath: (pathname) =>
        /^\/notifications\/(verify|unsubscribe)$/.test(pathname) ? pathname : undefined,
      requestHeaders: [],
      responseHeaders: [
        'content-type',
        'content-length',
        'cache-control',
        'content-security-policy',
      ],
      trustedProxyHops: config.trustedProxyHops,
      sign,
      idleTimeoutMs: 10_000,
    }),
  ];
}
