import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { authenticateHeader, type TokenVerifier } from '../../lib/server/createTokenVerifier.js';
import { ErrorCode } from '../../lib/contracts/errors.js';
import { sendError, type Route } from '../../lib/server/http.js';
import type { DownloadTokens, FileBucket } from '../../lib/platform/createDownloadTokens.js';
import { VIDEO_BUCKET } from '../../lib/stores/gridfs.js';
import type { VideoStore } from './createVideoStore.js';
import { mp3Name } from '../../lib/contracts/filenameParameters.js';
import { contentDisposition, parseRange } from './httpRange.js';

/**
 * `GET`/`HEAD /files/videos/<id>` and `/files/audio/<id>`: a bearer token of the owner, or a
 * `?token=` signed for that one file. Single ranges, strong ETags, and a download named after
 * the video. The GridFS stream is piped with backpressure: a slow client slows the reads.
 */
export function createFileRoute(deps: {
  store: VideoStore;
  downloads: DownloadTokens;
  verifyToken: TokenVerifier;
}): Route {
  const { store } = deps;
  return {
    methods: ['GET', 'HEAD'],
    path: '/files/*',
    async handler(req, res) {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const match = /^\/files\/(videos|audio)\/([^/]+)$/.exec(url.pathname);
      if (!match) return sendError(res, ErrorCode.NOT_FOUND, 'No such file');
      const bucket = match[1] as FileBucket;
      const id = match[2] ?? '';

      const caller = await callerFor(req, res, url, bucket, id);
      if (caller === null) return;
      const file = await store.findFile(bucket, id);
      // Not yours and not there look the same.
      if (!file || (caller.kind === 'owner' && file.metadata?.owner !== caller.userId)) {
        return sendError(res, ErrorCode.NOT_FOUND, 'No such file');
      }

      let filename: string;
      let contentType: string;
      let etag: string;
      if (bucket === VIDEO_BUCKET) {
        const video = await store.findOwned(id, file.metadata?.owner ?? '');
        if (!video) return sendError(res, ErrorCode.NOT_FOUND, 'No such file');
        filename = video.filename;
        contentType = video.contentType;
        etag = `"${video.sha256}"`;
      } else {
        // The file document read above already carries the worker's metadata.
        const { videoId, owner, sha256 } = file.metadata ?? {};
        const video = videoId && owner ? await store.findOwned(videoId, owner) : null;
        filename = mp3Name(video?.filename ?? 'audio');
        contentType = 'audio/mpeg';
        etag = `"${sha256 ?? id}"`;
      }

      res.setHeader('accept-ranges', 'bytes');
      res.setHeader('etag', etag);
      res.setHeader('cache-control', 'private, no-cache');
      res.setHeader('content-type', contentType);
      res.setHeader('content-disposition', contentDisposition(filename));
      if (req.headers['if-none-match']?.split(',').some((tag) => tag.trim() === etag)) {
        res.writeHead(304).end();
        return;
      }

      const range = parseRange(req.headers.range, file.length);
      if (range === 'unsatisfiable') {
        res.setHeader('content-range', `bytes */${file.length}`);
        return sendError(res, ErrorCode.RANGE_NOT_SATISFIABLE, `The file has ${file.length} bytes`);
      }
      if (range) {
        res.writeHead(206, {
          'content-range': `bytes ${range.start}-${range.end}/${file.length}`,
          'content-length': range.end - range.start + 1,
        });
      } else {
        res.writeHead(200, { 'content-length': file.length });
      }
      if (req.method === 'HEAD' || file.length === 0) {
        res.end();
        return;
      }
      await pipeline(store.openDownload(bucket, file, range), res);
    },
  };

  /** Who may read: a signed-in user, or the holder of a link for this file; null once answered. */
  async function callerFor(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    bucket: FileBucket,
    id: string,
  ): Promise<{ kind: 'owner'; userId: string } | { kind: 'link' } | null> {
    const token = url.searchParams.get('token');
    if (token !== null) {
      if (await deps.downloads.allows(token, bucket, id)) return { kind: 'link' };
      sendError(res, ErrorCode.UNAUTHENTICATED, 'This download link is invalid or has expired');
      return null;
    }
    try {
      const verified = await authenticateHeader(deps.verifyToken, req.headers.authorization);
      if (verified) return { kind: 'owner', userId: verified.userId };
    } catch {
      // falls through to the same answer as no credentials
    }
    sendError(
      res,
      ErrorCode.UNAUTHENTICATED,
      'Send Authorization: Bearer <token> or use a download link',
    );
    return null;
  }
}
