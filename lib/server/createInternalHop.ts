import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header the router signs every request to a subgraph with. */
export const HOP_HEADER = 'x-reelflux-hop';

/**
 * How long a signature is good for: the replay window. The router signs each request as it
 * sends it and the subgraph checks it as it arrives, so only clock skew and the time to read
 * a JSON body count against it.
 */
export const HOP_MAX_AGE_SECONDS = 30;

/** The header in which the router passes on the size of a client's upload request. */
export const CLIENT_REQUEST_BYTES_HEADER = 'x-client-request-bytes';

/**
 * The headers a subgraph believes of the router's requests, and so signs with them: the
 * client's address (the rate limits count it), the caller's token, and for an upload the size
 * of the client's whole request (what the upload may hold of its owner's quota).
 */
export const SIGNED_HEADERS = [
  'x-forwarded-for',
  'authorization',
  CLIENT_REQUEST_BYTES_HEADER,
] as const;

/**
 * What the router signs of one request to a subgraph. A signature is good for this request
 * only: another method, path, query, client address, token or body does not match it.
 */
export interface HopRequest {
  method: string;
  /** The request target as sent: path and query string (`/graphql`, `/files/audio/…?token=…`). */
  target: string;
  /** The request's headers by lower-case name; those in SIGNED_HEADERS are signed, '' if absent. */
  headers: Readonly<Record<string, string | undefined>>;
  body: HopBody;
}

/**
 * What is signed of the body. `sha256` (base64url) when the router has the body whole before
 * sending it: GraphQL as JSON, and the empty bodies of relayed logins and downloads.
 * `streamedUpload` for a multipart upload that the router streams on as the client sends it,
 * whose bytes it cannot hash in advance: the request's Content-Type, boundary included, marks
 * it as such. Subgraphs accept that marker only on media's GraphQL route, as a multipart
 * request carrying a file for an `Upload` variable, which only `uploadVideo` takes; the method,
 * path, address and token are signed as for any other request.
 */
export type HopBody = { sha256: string } | { streamedUpload: string };

/** Headers that make a request the router's: what the router's senders take. */
export type HopSigner = (request: HopRequest) => Record<string, string>;

export interface InternalHop {
  /** The HOP_HEADER value for `request`, signed at `now`. */
  sign(request: HopRequest, now?: Date): string;
  /**
   * Whether `req` carries a well-formed signature made within the window: worth reading a
   * body for. Says nothing yet about what was signed.
   */
  isRecent(req: IncomingMessage, now?: Date): boolean;
  /**
   * Whether `req` carries a recent signature of exactly this request: its method, target and
   * SIGNED_HEADERS as received, and `body` (the digest of what was read, or the
   * streamed-upload marker).
   */
  verify(req: IncomingMessage, body: HopBody, now?: Date): boolean;
}

/** The signed form of a body the sender or the receiver has whole. */
export function bodyDigest(body: string | Uint8Array | undefined): HopBody {
  return {
    sha256: createHash('sha256')
      .update(body ?? '')
      .digest('base64url'),
  };
}

/** The facts of a received request that its signature must cover, with `body`. */
function receivedHopRequest(req: IncomingMessage, body: HopBody): HopRequest {
  const headers: Record<string, string> = {};
  for (const name of SIGNED_HEADERS) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { method: req.method ?? 'GET', target: req.url ?? '/', headers, body };
}

const SIGNATURE = /^v2\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/;

/**
 * Authenticates the router-to-subgraph hop with a secret shared by the router and the
 * subgraphs (`INTERNAL_HOP_SECRET`): `v2.<unix seconds>.<HMAC-SHA256>` over the version, the
 * time, and the request's method, target, SIGNED_HEADERS and body (see HopBody), one per line. Subgraphs answer GraphQL and logins only to signed requests, and
 * believe the client address the router passes on only with a signature; as the signature
 * fits one request for HOP_MAX_AGE_SECONDS, one seen in passing cannot be replayed with
 * another path, body, address or token, nor later.
 */
export function createInternalHop(secret: Uint8Array): InternalHop {
  const mac = (seconds: string, request: HopRequest) => {
    const body =
      'sha256' in request.body
        ? `sha256:${request.body.sha256}`
        : `streamed:${request.body.streamedUpload}`;
    // Header values and request targets cannot hold a line break: the lines cannot run together.
    const payload = [
      'v2',
      seconds,
      request.method.toUpperCase(),
      request.target,
      ...SIGNED_HEADERS.map((name) => request.headers[name] ?? ''),
      body,
    ].join('\n');
    return createHmac('sha256', secret).update(payload).digest();
  };
  const parse = (req: IncomingMessage, now: Date) => {
    const value = req.headers[HOP_HEADER];
    const match = typeof value === 'string' ? SIGNATURE.exec(value) : null;
    if (!match?.[1] || !match[2]) return undefined;
    const age = Math.abs(now.getTime() / 1000 - Number(match[1]));
    return age > HOP_MAX_AGE_SECONDS ? undefined : { seconds: match[1], signature: match[2] };
  };
  return {
    sign(request, now = new Date()) {
      const seconds = String(Math.floor(now.getTime() / 1000));
      return `v2.${seconds}.${mac(seconds, request).toString('base64url')}`;
    },
    isRecent(req, now = new Date()) {
      return parse(req, now) !== undefined;
    },
    verify(req, body, now = new Date()) {
      const signed = parse(req, now);
      if (!signed) return false;
      const expected = mac(signed.seconds, receivedHopRequest(req, body));
      return timingSafeEqual(expected, Buffer.from(signed.signature, 'base64url'));
    },
  };
}

/** The request headers of a tus request that its signature covers (see resumableUploadBody). */
const TUS_SIGNED_HEADERS = [
  'content-type',
  'tus-resumable',
  'upload-offset',
  'upload-length',
  'upload-defer-length',
  'upload-metadata',
  'upload-checksum',
] as const;

/**
 * What is signed of a resumable upload's request (`/uploads/`), whose body the router streams
 * on: the streamed-upload marker, made of its tus headers, so a signature fits its offset,
 * length and metadata too. Media accepts it on that route only.
 */
export function resumableUploadBody(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): HopBody {
  const values = TUS_SIGNED_HEADERS.map((name) => {
    const value = headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
  });
  return { streamedUpload: `tus ${JSON.stringify(values)}` };
}
