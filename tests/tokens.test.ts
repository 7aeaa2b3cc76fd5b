import { createLocalJWKSet } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createTokenVerifier, InvalidTokenError } from '../lib/server/createTokenVerifier.js';
import { createTokenIssuer } from '../subgraphs/auth/createTokenIssuer.js';
import { forgeTokens, generateEd25519Pem } from './helpers/forgeTokens.js';

const setup = { privateKeyPem: generateEd25519Pem(), issuer: 'reelflux', audience: 'reelflux' };

describe('token issuing and verification', async () => {
  const issuer = await createTokenIssuer({ ...setup, ttlSeconds: 3600 });
  const verify = createTokenVerifier({
    keys: createLocalJWKSet(issuer.jwks),
    issuer: setup.issuer,
    audience: setup.audience,
  });
  const userId = '6650f0c2a1b2c3d4e5f60718';
  const { token, expiresAt } = await issuer.issue(userId);

  it('issues an EdDSA token with kid that verifies to its subject', async () => {
    const [header] = token.split('.');
    const decoded = JSON.parse(Buffer.from(header ?? '', 'base64url').toString());
    expect(decoded).toMatchObject({ alg: 'EdDSA', kid: issuer.jwks.keys[0]?.kid });
    expect(await verify(token)).toEqual({ userId, expiresAt });
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(3590_000);
  });

  it('publishes only the public key', () => {
    const [jwk] = issuer.jwks.keys;
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    expect(jwk).not.toHaveProperty('d');
  });

  it('supports ES256 keys too', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const es = await createTokenIssuer({ ...setup, privateKeyPem: pem, ttlSeconds: 60 });
    const esVerify = createTokenVerifier({ ...setup, keys: createLocalJWKSet(es.jwks) });
    const esIssued = await es.issue(userId);
    expect(await esVerify(esIssued.token)).toEqual({ userId, expiresAt: esIssued.expiresAt });
  });

  it('refuses RSA keys, which would allow a weaker setup than we promise', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await expect(
      createTokenIssuer({ ...setup, privateKeyPem: pem, ttlSeconds: 60 }),
    ).rejects.toThrow(/Ed25519 or EC P-256/);
  });

  it('does not keep accepting a cached token once it has expired', async () => {
    const shortLived = await createTokenIssuer({ ...setup, ttlSeconds: 30 });
    const verifyShort = createTokenVerifier({ ...setup, keys: createLocalJWKSet(shortLived.jwks) });
    const issued = await shortLived.issue(userId);
    expect(await verifyShort(issued.token)).toEqual({ userId, expiresAt: issued.expiresAt }); // now cached
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(issued.expiresAt.getTime() + 1_000);
    await expect(verifyShort(issued.token)).rejects.toThrow(/exp/);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const forged = await forgeTokens(setup, userId, token);
  it.each(Object.entries(forged))('rejects a token that is %s', async (_kind, bad) => {
    await expect(verify(bad)).rejects.toBeInstanceOf(InvalidTokenError);
  });
});
