import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { ErrorCode } from '../lib/contracts/errorCodes.js';
import { requestPath, sendError, type Route, type RouteHandler } from '../lib/server/http.js';

/**
 * The page may load and connect to nothing but this router: its own scripts, styles and
 * downloads, and GraphQL over HTTP and WebSocket (`'self'` covers ws: and wss: on the same
 * host). No inline script or style, no frames, no form posts elsewhere.
 */
export const WEB_APP_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "media-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
};

/** Where the page registers its push service worker (web/public/pushWorker.js). */
const PUSH_WORKER = '/pushWorker.js';

interface WebFile {
  body: Buffer;
  /** Kept when it is smaller: every client that matters asks for gzip. */
  gzipped: Buffer | undefined;
  contentType: string;
  /** A hash of the bytes; the gzipped answer's tag is told apart by a suffix. */
  etag: string;
  cacheControl: string;
}

/**
 * GET `/`, `/assets/*` and `/pushWorker.js`: the web app Vite built into `webRoot` (dist/web), read once at
 * start (tens of kB, fixed while the router runs). Assets carry a content hash in their name
 * and are cached for a year; `index.html` is revalidated on every load (`no-cache` with an
 * ETag), so a new build reaches browsers at their next load after the router restarts. Without a build, `/` answers NOT_FOUND and
 * says how to make one; GraphQL and the rest of the router work the same.
 */
export function createWebAppRoutes(webRoot: string): Route[] {
  const files = readWebFiles(webRoot);
  const serve: RouteHandler = (req, res) => {
    const path = requestPath(req);
    const file = files.get(path);
    if (!file) {
      sendError(
        res,
        ErrorCode.NOT_FOUND,
        files.size === 0 ? 'The web app is not built: run `npm run build`.' : `No file ${path}`,
      );
      return;
    }
    const gzipped = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
      ? file.gzipped
      : undefined;
    const body = gzipped ?? file.body;
    const etag = `"${file.etag}${gzipped ? '-gz' : ''}"`;
    const headers: Record<string, string> = {
      'content-type': file.contentType,
      'cache-control': file.cacheControl,
      etag,
      vary: 'accept-encoding',
      'content-security-policy': WEB_APP_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    };
    if (matchesEtag(req.headers['if-none-match'], etag)) {
      res.writeHead(304, headers).end();
      return;
    }
    if (gzipped) headers['content-encoding'] = 'gzip';
    headers['content-length'] = String(body.length);
    res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : body);
  };
  return [
    { methods: ['GET', 'HEAD'], path: '/', handler: serve },
    { methods: ['GET', 'HEAD'], path: '/assets/*', handler: serve },
    { methods: ['GET', 'HEAD'], path: PUSH_WORKER, handler: serve },
  ];
}

function readWebFiles(webRoot: string): Map<string, WebFile> {
  const files = new Map<string, WebFile>();
  if (!existsSync(join(webRoot, 'index.html'))) return files;
  const add = (urlPath: string, diskPath: string, cacheControl: string) => {
    const body = readFileSync(diskPath);
    const gzipped = gzipSync(body, { level: 9 });
    files.set(urlPath, {
      body,
      gzipped: gzipped.length < body.length ? gzipped : undefined,
      contentType: CONTENT_TYPES[extname(diskPath)] ?? 'application/octet-stream',
      etag: createHash('sha256').update(body).digest('base64url').slice(0, 27),
      cacheControl,
    });
  };
  add('/', join(webRoot, 'index.html'), 'no-cache');
  // The service worker that shows browser pushes: at the root, so its scope is the whole page,
  // and revalidated, as browsers check a worker's script for updates.
  const worker = join(webRoot, PUSH_WORKER.slice(1));
  if (existsSync(worker)) add(PUSH_WORKER, worker, 'no-cache');
  const assets = join(webRoot, 'assets');
  if (existsSync(assets)) {
    for (const entry of readdirSync(assets, { withFileTypes: true })) {
      if (!entry.isFile()) continue;
      add(`/assets/${entry.name}`, join(assets, entry.name), 'public, max-age=31536000, immutable');
    }
  }
  return files;
}

/** `If-None-Match` as RFC 9110 §13.1.2 reads it: `*`, or a list of tags compared weakly. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
