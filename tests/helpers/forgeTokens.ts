import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { SignJWT, base64url, calculateJwkThumbprint, exportJWK } from 'jose';

export interface SigningSetup {
  privateKeyPem: string;
  issuer: string;
  audience: string;
}

export function generateEd25519Pem(): string {
  return generateKeyPairSync('ed25519')
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/**
 * Tokens an attacker or a broken client could send, each built the way the attack works:
 * signed with the real key but expired, signed by another key under the real kid, `alg: none`,
 * HS256 keyed with the (public) verification key, and a valid token with its payload edited.
 */
export async function forgeTokens(real: SigningSetup, userId: string, validToken: string) {
  const privateKey = createPrivateKey(real.privateKeyPem);
  const publicKey = createPublicKey(privateKey);
  const kid = await calculateJwkThumbprint(await exportJWK(publicKey));
  const now = Math.floor(Date.now() / 1000);
  const sign = (claims: { iat: number; exp: number; nbf?: number; iss?: string; aud?: string }) => {
    const jwt = new SignJWT({})
      .setProtectedHeader({ alg: 'EdDSA', kid })
      .setSubject(userId)
      .setIssuer(claims.iss ?? real.issuer)
      .setAudience(claims.aud ?? real.audience)
      .setIssuedAt(claims.iat)
      .setExpirationTime(claims.exp);
    if (claims.nbf !== undefined) jwt.setNotBefore(claims.nbf);
    return jwt.sign(privateKey);
  };
  /** The claims of a valid token under the real kid, to be signed with the wrong thing. */
  const validClaims = (alg: string) =>
    new SignJWT({})
      .setProtectedHeader({ alg, kid })
      .setSubject(userId)
      .setIssuer(real.issuer)
      .setAudience(real.audience)
      .setIssuedAt(now)
      .setExpirationTime(now + 600);
  const encode = (value: unknown) => base64url.encode(JSON.stringify(value));
  const payload = { sub: userId, iss: real.issuer, aud: real.audience, iat: now, exp: now + 600 };
  const [header, , signature] = validToken.split('.');

  return {
    expired: await sign({ iat: now - 7200, exp: now - 3600 }),
    notYetValid: await sign({ iat: now, exp: now + 7200, nbf: now + 3600 }),
    wrongIssuer: await sign({ iat: now, exp: now + 600, iss: 'someone-else' }),
    wrongAudience: await sign({ iat: now, exp: now + 600, aud: 'another-api' }),
    otherKey: await validClaims('EdDSA').sign(createPrivateKey(generateEd25519Pem())),
    algNone: `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`,
    hs256WithPublicKey: await validClaims('HS256').sign(
      new TextEncoder().encode(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    ),
    tamperedPayload: `${header}.${encode({ ...payload, sub: '000000000000000000000000' })}.${signature}`,
  };
}

/** A valid token signed with the real key, as auth would issue it, expiring at `exp` (seconds). */
export async function signRealToken(
  real: SigningSetup,
  userId: string,
  exp: number,
): Promise<string> {
  const privateKey = createPrivateKey(real.privateKeyPem);
  const kid = await calculateJwkThumbprint(await exportJWK(createPublicKey(privateKey)));
  return new SignJWT({})
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .setSubject(userId)
    .setIssuer(real.issuer)
    .setAudience(real.audience)
    .setIssuedAt(Math.floor(Date.now() / 1000))
    .setExpirationTime(exp)
    .sign(privateKey);
}
