import { readFileSync } from 'node:fs';
import { ConfigError, readEnv } from '../../lib/platform/readEnv.js';
import type { LoginLimits } from './createLoginLimiter.js';
import { readServiceBasics, type ServiceBasics } from '../../lib/server/readServiceBasics.js';

export interface AuthConfig extends ServiceBasics {
  jwt: {
    /** PKCS#8 PEM of an Ed25519 or P-256 private key. */
    privateKeyPem: string;
    issuer: string;
    audience: string;
    ttlSeconds: number;
  };
  login: LoginLimits;
  /** Sign-ups one client address (an IPv6 /64 counts as one) may make per hour. */
  signUpsPerClientPerHour: number;
  /** Sign-ups the whole service takes per hour, whatever the addresses. */
  signUpsPerHour: number;
}

export function loadAuthConfig(source: NodeJS.ProcessEnv = process.env): AuthConfig {
  const env = readEnv(source);
  return {
    ...readServiceBasics(env, 'auth', source),
    jwt: {
      privateKeyPem: readPrivateKey(source),
      issuer: env.string('JWT_ISSUER', 'reelflux'),
      audience: env.string('JWT_AUDIENCE', 'reelflux'),
      ttlSeconds: env.int('JWT_TTL_SECONDS', 3600, { min: 60, max: 30 * 86400 }),
    },
    login: {
      maxFailuresPerEmail: env.int('LOGIN_MAX_FAILURES_PER_EMAIL', 5, { min: 1 }),
      maxFailuresPerClient: env.int('LOGIN_MAX_FAILURES_PER_CLIENT', 20, { min: 1 }),
      maxFailuresPerEmailFromNewClients: env.int(
        'LOGIN_MAX_FAILURES_PER_EMAIL_FROM_NEW_CLIENTS',
        100,
        { min: 1 },
      ),
      windowSeconds: env.int('LOGIN_WINDOW_SECONDS', 900, { min: 1 }),
      knownClientDays: env.int('LOGIN_KNOWN_CLIENT_DAYS', 30, { min: 1, max: 365 }),
    },
    signUpsPerClientPerHour: env.int('SIGNUPS_PER_CLIENT_PER_HOUR', 10, { min: 1 }),
    signUpsPerHour: env.int('SIGNUPS_PER_HOUR', 1000, { min: 1 }),
  };
}

/** JWT_PRIVATE_KEY holds the PEM itself (a Kubernetes secret); JWT_PRIVATE_KEY_FILE a path. */
function readPrivateKey(source: NodeJS.ProcessEnv): string {
  const env = readEnv(source);
  const inline = env.optionalString('JWT_PRIVATE_KEY');
  if (inline !== undefined) return inline.replaceAll('\\n', '\n');
  const path = env.optionalString('JWT_PRIVATE_KEY_FILE');
  if (path === undefined) {
    throw new ConfigError('JWT_PRIVATE_KEY or JWT_PRIVATE_KEY_FILE is required but neither is set');
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(`JWT_PRIVATE_KEY_FILE cannot be read: ${(error as Error).message}`);
  }
}
