import { readFileSync } from 'node:fs';
import { ConfigError, readEnv } from './readEnv.js';

/**
 * A secret from `NAME` or, for Kubernetes and compose secrets, the file `NAME_FILE` names: at
 * least 32 bytes, and the same for every replica that shares it.
 */
export function readSecret(source: NodeJS.ProcessEnv, name: string): Uint8Array {
  const env = readEnv(source);
  let secret = env.optionalString(name);
  const file = env.optionalString(`${name}_FILE`);
  if (secret === undefined && file !== undefined) {
    try {
      secret = readFileSync(file, 'utf8').trim();
    } catch (error) {
      throw new ConfigError(`${name}_FILE cannot be read: ${(error as Error).message}`);
    }
  }
  if (secret === undefined) {
    throw new ConfigError(`${name} or ${name}_FILE is required but neither is set`);
  }
  if (Buffer.byteLength(secret) < 32) throw new ConfigError(`${name} must be at least 32 bytes`);
  return new TextEncoder().encode(secret);
}
