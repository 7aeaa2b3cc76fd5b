import { DEFAULT_PORTS } from '../platform/processPorts.js';
import type { EnvReader } from '../platform/readEnv.js';

export interface TokenVerificationConfig {
  jwksUrl: string;
  issuer: string;
  audience: string;
}

/** The variables every token-verifying process reads, with one set of defaults. */
export function readTokenVerification(env: EnvReader): TokenVerificationConfig {
  const authUrl = env.url('AUTH_URL', `http://127.0.0.1:${DEFAULT_PORTS.auth}`);
  return {
    jwksUrl: env.url('JWKS_URL', `${authUrl}/.well-known/jwks.json`),
    issuer: env.string('JWT_ISSUER', 'reelflux'),
    audience: env.string('JWT_AUDIENCE', 'reelflux'),
  };
}
