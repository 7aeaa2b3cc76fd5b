import { createPrivateKey, createPublicKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, type JWK } from 'jose';

export interface TokenIssuerOptions {
  privateKeyPem: string;
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface IssuedToken {
  token: string;
  expiresAt: Date;
}

export interface TokenIssuer {
  issue(userId: string, now?: Date): Promise<IssuedToken>;
  /** The public half, served at /.well-known/jwks.json for every verifier. */
  jwks: { keys: JWK[] };
}

/**
 * Signs access tokens with an asymmetric key from configuration. The algorithm follows the
 * key (Ed25519 → EdDSA, P-256 → ES256), and `kid` is the key's RFC 7638 thumbprint, so a
 * rotated key gets a new kid and verifiers refetch the JWKS by themselves.
 */
export async function createTokenIssuer(options: TokenIssuerOptions): Promise<TokenIssuer> {
  const privateKey = createPrivateKey(options.privateKeyPem);
  const alg = algorithmFor(privateKey);
  const publicJwk = await exportJWK(createPublicKey(privateKey));
  const kid = await calculateJwkThumbprint(publicJwk);
  const jwks = { keys: [{ ...publicJwk, kid, alg, use: 'sig' }] };

  return {
    jwks,
    async issue(userId, now = new Date()) {
      const issuedAt = Math.floor(now.getTime() / 1000);
      const expiresAt = new Date((issuedAt + options.ttlSeconds) * 1000);
      const token = await new SignJWT({})
        .setProtectedHeader({ alg, kid, typ: 'JWT' })
        .setSubject(userId)
        .setIssuer(options.issuer)
        .setAudience(options.audience)
        .setIssuedAt(issuedAt)
        .setNotBefore(issuedAt)
        .setExpirationTime(expiresAt)
        .setJti(randomUUID())
        .sign(privateKey);
      return { token, expiresAt };
    },
  };
}

function algorithmFor(key: KeyObject): 'EdDSA' | 'ES256' {
  if (key.asymmetricKeyType === 'ed25519') return 'EdDSA';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return 'ES256';
  }
  throw new Error(
    `JWT private key must be Ed25519 or EC P-256, got ${key.asymmetricKeyType ?? 'unknown'}`,
  );
}
