import { createPrivateKey, createPublicKey } from 'node:crypto';
import { calculateJwkThumbprint, createLocalJWKSet, exportJWK } from 'jose';
import {
  createTokenVerifier,
  type TokenVerifier,
} from '../../../lib/server/createTokenVerifier.js';
import { generateEd25519Pem, signRealToken, type SigningSetup } from '../forgeTokens.js';

export interface FakeTokenIssuer {
  setup: SigningSetup;
  /** Verifies as every process does (lib's createTokenVerifier), against this issuer's key. */
  verify: TokenVerifier;
  /** A token for `userId`, expiring in `seconds` (10 minutes unless told). */
  issue(userId: string, seconds?: number): Promise<string>;
}

/** Auth's part in a unit test: a throwaway Ed25519 key pair, its JWKS held in memory. */
export async function createFakeTokenIssuer(): Promise<FakeTokenIssuer> {
  const setup: SigningSetup = {
    privateKeyPem: generateEd25519Pem(),
    issuer: 'reelflux-test-auth',
    audience: 'reelflux-test-api',
  };
  const jwk = await exportJWK(createPublicKey(createPrivateKey(setup.privateKeyPem)));
  const kid = await calculateJwkThumbprint(jwk);
  return {
    setup,
    verify: createTokenVerifier({
      keys: createLocalJWKSet({ keys: [{ ...jwk, kid, alg: 'EdDSA' }] }),
      issuer: setup.issuer,
      audience: setup.audience,
    }),
    issue: (userId, seconds = 600) =>
      signRealToken(setup, userId, Math.floor(Date.now() / 1000) + seconds),
  };
}
