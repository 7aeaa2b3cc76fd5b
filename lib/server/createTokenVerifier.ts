import type { TokenVerificationConfig } from './readTokenVerification.js';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';

/** Auth's published keys: fetched lazily, cached, refetched when a token names a new kid. */
export function remoteKeySet(jwksUrl: string): JWTVerifyGetKey {
  return createRemoteJWKSet(new URL(jwksUrl), { timeoutDuration: 5_000 });
}
import { createExpiringCache } from '../platform/createExpiringCache.js';
import { ErrorCode, graphqlError } from '../contracts/errors.js';

/** Only asymmetric algorithms: an HS256 token "signed" with our public key is refused. */
export const ACCEPTED_JWT_ALGORITHMS = ['EdDSA', 'ES256'];

export interface TokenVerifierOptions {
  /** remoteKeySet(url) everywhere but in auth, which holds its own keys. */
  keys: JWTVerifyGetKey;
  issuer: string;
  audience: string;
}

export interface VerifiedToken {
  userId: string;
  /** The token's `exp`: a subscription socket opened with it is closed then. */
  expiresAt: Date;
}

export class InvalidTokenError extends Error {
  override name = 'InvalidTokenError';
}

export type TokenVerifier = (token: string) => Promise<VerifiedToken>;

/**
 * Verifies a bearer token against auth's JWKS: signature, algorithm, issuer, audience, expiry
 * and not-before. Every process that reads a token uses this; none trusts a decoded payload.
 */
export function createTokenVerifier(options: TokenVerifierOptions): TokenVerifier {
  const { keys } = options;
  // Tokens that verified, by their exact text (so the same signature), until they expire or for
  // a minute at most. A client sends one token many times; checking its EdDSA signature each
  // time was an eighth of the router's CPU. Only successes are kept.
  const verified = createExpiringCache<VerifiedToken>(10_000);
  return async (token) => {
    const cached = verified.get(token);
    if (cached) return cached;
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: options.issuer,
        audience: options.audience,
        algorithms: ACCEPTED_JWT_ALGORITHMS,
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      if (typeof payload.sub !== 'string' || payload.sub === '') {
        throw new InvalidTokenError('token has no subject');
      }
      // `exp` is a required claim, so jose has checked that it is there and in the future.
      const expiresAtMs = (payload.exp ?? 0) * 1000;
      const result = { userId: payload.sub, expiresAt: new Date(expiresAtMs) };
      verified.set(token, result, Math.min(expiresAtMs, Date.now() + 60_000));
      return result;
    } catch (error) {
      if (error instanceof InvalidTokenError) throw error;
      // A JWKS that cannot be fetched is our fault, not the caller's: let it surface as 5xx.
      if (error instanceof joseErrors.JWKSTimeout || isNetworkError(error)) throw error;
      throw new InvalidTokenError(error instanceof Error ? error.message : 'invalid token');
    }
  };
}

function isNetworkError(error: unknown): boolean {
  return error instanceof TypeError && error.message.includes('fetch failed');
}

/**
 * Reads `Authorization: Bearer …`. No header means anonymous (undefined); a header that is
 * present but not a valid token is an UNAUTHENTICATED error for the whole request, so a
 * client with a stale token learns it instead of silently acting as nobody.
 */
export async function authenticateHeader(
  verify: TokenVerifier,
  header: string | undefined,
): Promise<VerifiedToken | undefined> {
  if (header === undefined || header === '') return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match?.[1]) {
    throw graphqlError(
      ErrorCode.UNAUTHENTICATED,
      'Authorization must be "Bearer <token>"',
      {},
      {
        httpStatus: true,
      },
    );
  }
  try {
    return await verify(match[1]);
  } catch (error) {
    if (!(error instanceof InvalidTokenError)) throw error;
    throw graphqlError(
      ErrorCode.UNAUTHENTICATED,
      `Invalid token: ${error.message}`,
      {},
      {
        httpStatus: true,
      },
    );
  }
}

/** The verifier of a process that checks auth's tokens against its JWKS over HTTP. */
export function createRemoteTokenVerifier(tokens: TokenVerificationConfig): TokenVerifier {
  return createTokenVerifier({
    keys: remoteKeySet(tokens.jwksUrl),
    issuer: tokens.issuer,
    audience: tokens.audience,
  });
}
