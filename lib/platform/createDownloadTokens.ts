import { SignJWT, jwtVerify } from 'jose';
import { DEFAULT_PORTS } from './processPorts.js';
import type { EnvReader } from './readEnv.js';
import { readSecret } from './readSecret.js';

export type FileBucket = 'videos' | 'audio';

export interface DownloadTokens {
  /** A token good for one file only, for `ttlSeconds`. */
  sign(bucket: FileBucket, fileId: string): Promise<string>;
  /** A link to one file that works without a header (`curl -O`), and when it stops working. */
  link(bucket: FileBucket, fileId: string): Promise<{ url: string; expiresAt: Date }>;
  /** True when `token` was signed for exactly this file and has not expired. */
  allows(token: string, bucket: FileBucket, fileId: string): Promise<boolean>;
}

/** How download links are made: PUBLIC_URL, DOWNLOAD_TOKEN_SECRET, DOWNLOAD_TOKEN_TTL_SECONDS. */
export interface DownloadLinkSettings {
  /** Where clients reach the router, without a trailing slash. */
  publicUrl: string;
  secret: Uint8Array;
  ttlSeconds: number;
}

const AUDIENCE = 'reelflux-download';

/**
 * Read alike by media, which makes and checks the links, and the notification service, which
 * puts them in its notices: both must agree on the secret and the public address.
 */
export function readDownloadLinkSettings(
  env: EnvReader,
  source: NodeJS.ProcessEnv,
): DownloadLinkSettings {
  return {
    publicUrl: env.url('PUBLIC_URL', `http://127.0.0.1:${DEFAULT_PORTS.router}`).replace(/\/$/, ''),
    secret: readSecret(source, 'DOWNLOAD_TOKEN_SECRET'),
    ttlSeconds: env.int('DOWNLOAD_TOKEN_TTL_SECONDS', 900, { min: 10, max: 86400 }),
  };
}

/**
 * Short-lived links for downloads that cannot send a header (`<audio src>`, `curl -O`).
 * Media checks them; media and the notification service make them, with one shared HMAC
 * secret. The subject binds the token to one file, so it opens nothing else.
 */
export function createDownloadTokens(settings: DownloadLinkSettings): DownloadTokens {
  const { secret, ttlSeconds, publicUrl } = settings;
  const sign = (bucket: FileBucket, fileId: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(`${bucket}/${fileId}`)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${ttlSeconds}s`)
      .sign(secret);
  return {
    sign,
    async link(bucket, fileId) {
      const expiresAt = new Date(Math.floor(Date.now() / 1000) * 1000 + ttlSeconds * 1000);
      const token = await sign(bucket, fileId);
      return { url: `${publicUrl}/files/${bucket}/${fileId}?token=${token}`, expiresAt };
    },
    async allows(token, bucket, fileId) {
      try {
        const { payload } = await jwtVerify(token, secret, {
          audience: AUDIENCE,
          algorithms: ['HS256'],
        });
        return payload.sub === `${bucket}/${fileId}`;
      } catch {
        return false;
      }
    },
  };
}
