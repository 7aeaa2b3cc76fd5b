import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The header the router signs every request to a subgraph with. */
export const HOP_HEADER = 'x-reelflux-hop';

/** How old a signature may be (clocks of one cluster agree to well within this). */
const MAX_AGE_SECONDS = 300;

export interface InternalHop {
  /** A fresh value for HOP_HEADER. */
  sign(now?: Date): string;
  /** The request came from the router: it carries a valid, recent signature. */
  isFromRouter(req: IncomingMessage, now?: Date): boolean;
}

/**
 * Authenticates the router-to-subgraph hop with a secret shared by the router and the
 * subgraphs (`INTERNAL_HOP_SECRET`): `v1.<unix seconds>.<HMAC-SHA256 of "v1.<seconds>">`.
 * Subgraphs answer GraphQL and logins only to signed requests, and believe the client address
 * the router passes on only with a signature, so nothing that merely reaches a subgraph inside
 * the cluster can pose as the router or pick its own address for the rate limits.
 */
export function createInternalHop(secret: Uint8Array): InternalHop {
  const mac = (payload: string) => createHmac('sha256', secret).update(payload).digest();
  return {
    sign(now = new Date()) {
      const payload = `v1.${Math.floor(now.getTime() / 1000)}`;
      return `${payload}.${mac(payload).toString('base64url')}`;
    },
    isFromRouter(req, now = new Date()) {
      const value = req.headers[HOP_HEADER];
      if (typeof value !== 'string') return false;
      const match = /^(v1\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (!match?.[1] || !match[2] || !match[3]) return false;
      const age = Math.abs(now.getTime() / 1000 - Number(match[2]));
      if (age > MAX_AGE_SECONDS) return false;
      return timingSafeEqual(mac(match[1]), Buffer.from(match[3], 'base64url'));
    },
  };
}
