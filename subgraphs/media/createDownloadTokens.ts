import { SignJWT, jwtVerify } from 'jose';

export type FileBucket = 'videos' | 'audio';

export interface DownloadTokens {
  /** A token good for one file only, for `ttlSeconds`. */
  sign(bucket: FileBucket, fileId: string): Promise<string>;
  /** True when `token` was signed for exactly this file and has not expired. */
  allows(token: string, bucket: FileBucket, fileId: string): Promise<boolean>;
}

const AUDIENCE = 'reelflux-download';

/**
 * Short-lived links for downloads that cannot send a header (`<audio src>`, `curl -O`).
 * Media both signs and checks them, so a shared HMAC secret is enough; the subject binds the
 * token to one file, so it opens nothing else.
 */
export function createDownloadTokens(secret: Uint8Array, ttlSeconds: number): DownloadTokens {
  return {
    sign: (bucket, fileId) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(`${bucket}/${fileId}`)
        .setAudience(AUDIENCE)
        .setIssuedAt()
        .setExpirationTime(`${ttlSeconds}s`)
        .sign(secret),
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
