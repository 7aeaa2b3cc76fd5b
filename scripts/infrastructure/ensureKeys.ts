// One piece of `ensureInfrastructure` (scripts/ensureInfrastructure.ts); see docs/operations.md.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DEPLOY_KEYS_DIR, keyFiles, newJwtPrivateKey, newSecret } from '../ensureDeployKeys.js';
import { MissingInfrastructureError, type Say } from './hostTools.js';

const DEFAULT_JWT_KEY = join(DEPLOY_KEYS_DIR, keyFiles.jwtPrivateKey);

/** Local runs sign with an Ed25519 key generated once into .local/keys (mode 0600). */
export function ensureJwtKey(env: NodeJS.ProcessEnv, say: Say): string | undefined {
  if (env.JWT_PRIVATE_KEY) return undefined;
  const file = env.JWT_PRIVATE_KEY_FILE ?? DEFAULT_JWT_KEY;
  if (existsSync(file)) return file;
  if (env.JWT_PRIVATE_KEY_FILE) {
    throw new MissingInfrastructureError(
      `JWT_PRIVATE_KEY_FILE names ${file}, which does not exist.`,
    );
  }
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, newJwtPrivateKey(), { mode: 0o600 });
  say(`JWT: generated a signing key in ${file}`);
  return file;
}

/**
 * A random secret kept in .local/keys (mode 0600) for `name` (media's download links, the
 * router's signature), unless the environment gives one.
 */
export function ensureSecret(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: string,
): string | undefined {
  if (env[name]) return undefined;
  const file = env[`${name}_FILE`] ?? fallback;
  if (existsSync(file)) return file;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, newSecret(), { mode: 0o600 });
  return file;
}
