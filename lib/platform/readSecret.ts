import { readFileSync } from 'node:fs';
import { ConfigError, readEnv } from './readEnv.js';

/** `NAME`, or the contents of the file `NAME_FILE` names (Kubernetes and compose secrets). */
function readOptionalSecret(source: NodeJS.ProcessEnv, name: string): string | undefined {
  const env = readEnv(source);
  const secret = env.optionalString(name);
  const file = env.optionalString(`${name}_FILE`);
  if (secret !== undefined || file === undefined) return secret;
  try {
    return readFileSync(file, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`${name}_FILE cannot be read: ${(error as Error).message}`);
  }
}

/**
 * A secret from `NAME` or, for Kubernetes and compose secrets, the file `NAME_FILE` names: at
 * least 32 bytes, and the same for every replica that shares it.
 */
export function readSecret(source: NodeJS.ProcessEnv, name: string): Uint8Array {
  const secret = readOptionalSecret(source, name);
  if (secret === undefined) {
    throw new ConfigError(`${name} or ${name}_FILE is required but neither is set`);
  }
  if (Buffer.byteLength(secret) < 32) throw new ConfigError(`${name} must be at least 32 bytes`);
  return new TextEncoder().encode(secret);
}

/** As readSecret, for a secret that turns a feature on: undefined when neither is set. */
export function readSecretIfSet(source: NodeJS.ProcessEnv, name: string): Uint8Array | undefined {
  return readOptionalSecret(source, name) === undefined ? undefined : readSecret(source, name);
}

/**
 * A connection URL (MONGODB_URI, AMQP_URL) whose password may come from `PASSWORD` or the file
 * `PASSWORD_FILE`, so deployments mount each service's credentials as a secret instead of
 * writing them into a variable: `amqp://worker@rabbitmq:5672` and AMQP_PASSWORD_FILE. Spliced
 * as text because a MongoDB URI may list several hosts, which `URL` cannot parse.
 */
export function readUrlWithPassword(
  source: NodeJS.ProcessEnv,
  urlName: string,
  passwordName: string,
): string {
  const url = readEnv(source).string(urlName);
  const password = readOptionalSecret(source, passwordName);
  if (password === undefined) return url;
  const user = /^([a-z][a-z0-9+.-]*:\/\/)([^:@/?#]+)@/i.exec(url);
  if (!user) {
    throw new ConfigError(
      `${passwordName} is set, so ${urlName} must name a user and no password (scheme://user@host)`,
    );
  }
  return `${user[1]}${user[2]}:${encodeURIComponent(password)}@${url.slice(user[0].length)}`;
}
