import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAuthConfig } from '../subgraphs/auth/config.js';
import { loadRouterConfig } from '../router/config.js';
import { ConfigError, readEnv } from '../lib/platform/readEnv.js';
import { readUrlWithPassword } from '../lib/platform/readSecret.js';

describe('configuration', () => {
  it('parses typed values with defaults', () => {
    const env = readEnv({ A: ' 42 ', B: 'yes', C: 'http://x:1' });
    expect(env.int('A', 1)).toBe(42);
    expect(env.int('MISSING', 7)).toBe(7);
    expect(env.bool('B', false)).toBe(true);
    expect(env.url('C')).toBe('http://x:1');
  });

  it.each([
    [{ A: 'four' }, (e: ReturnType<typeof readEnv>) => e.int('A', 1), /A must be a whole number/],
    [
      { A: '0' },
      (e: ReturnType<typeof readEnv>) => e.int('A', 1, { min: 1 }),
      /A must be at least 1/,
    ],
    [
      { A: 'maybe' },
      (e: ReturnType<typeof readEnv>) => e.bool('A', true),
      /A must be true or false/,
    ],
    [{ A: 'nope' }, (e: ReturnType<typeof readEnv>) => e.url('A'), /A must be an absolute URL/],
    [{}, (e: ReturnType<typeof readEnv>) => e.string('A'), /A is required/],
  ])('names the variable in errors (%o)', (source, read, message) => {
    expect(() => read(readEnv(source))).toThrow(ConfigError);
    expect(() => read(readEnv(source))).toThrow(message);
  });

  const hop = { INTERNAL_HOP_SECRET: 'x'.repeat(32) };

  it('auth fails fast without a database, a signing key or the router hop secret', () => {
    expect(() => loadAuthConfig({ ...hop, JWT_PRIVATE_KEY: 'x' })).toThrow(
      /MONGODB_URI is required/,
    );
    expect(() => loadAuthConfig({ ...hop, MONGODB_URI: 'mongodb://x' })).toThrow(/JWT_PRIVATE_KEY/);
    expect(() =>
      loadAuthConfig({ ...hop, MONGODB_URI: 'mongodb://x', JWT_PRIVATE_KEY_FILE: '/nonexistent' }),
    ).toThrow(/JWT_PRIVATE_KEY_FILE cannot be read/);
    expect(() => loadAuthConfig({ MONGODB_URI: 'mongodb://x', JWT_PRIVATE_KEY: 'x' })).toThrow(
      /INTERNAL_HOP_SECRET or INTERNAL_HOP_SECRET_FILE is required/,
    );
    expect(() =>
      loadAuthConfig({
        MONGODB_URI: 'mongodb://x',
        JWT_PRIVATE_KEY: 'x',
        INTERNAL_HOP_SECRET: 'short',
      }),
    ).toThrow(/INTERNAL_HOP_SECRET must be at least 32 bytes/);
  });

  it('router derives subgraph and JWKS URLs from one variable per subgraph', () => {
    const amqp = { AMQP_URL: 'amqp://localhost', ...hop };
    const config = loadRouterConfig({ ...amqp, AUTH_URL: 'http://auth:4001' });
    expect(config.subgraphUrls.auth).toBe('http://auth:4001');
    expect(config.tokens.jwksUrl).toBe('http://auth:4001/.well-known/jwks.json');
    // Subscriptions need the broker's conversion.updated events.
    expect(() => loadRouterConfig({ ...hop })).toThrow(/AMQP_URL is required/);
    expect(() => loadRouterConfig({ ...amqp, MAX_QUERY_DEPTH: '1' })).toThrow(
      /MAX_QUERY_DEPTH must be at least 2/,
    );
  });
});

describe('connection URLs with the password from a secret', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reelflux-password-'));
  const file = join(dir, 'password');
  writeFileSync(file, 'p@ss/word\n');

  it.each([
    [{ U: 'amqp://worker@rabbitmq:5672' }, 'amqp://worker@rabbitmq:5672'],
    [
      { U: 'amqp://worker@rabbitmq:5672', U_PASSWORD_FILE: file },
      'amqp://worker:p%40ss%2Fword@rabbitmq:5672',
    ],
    [
      { U: 'mongodb://media@a:27017,b:27017/?replicaSet=rs0', U_PASSWORD: 'x' },
      'mongodb://media:x@a:27017,b:27017/?replicaSet=rs0',
    ],
  ])('splices it in (%o)', (source, url) => {
    expect(readUrlWithPassword(source, 'U', 'U_PASSWORD')).toBe(url);
  });

  it.each([
    [{ U: 'amqp://rabbitmq:5672', U_PASSWORD: 'x' }, /U must name a user and no password/],
    [{ U: 'amqp://a:b@rabbitmq:5672', U_PASSWORD: 'x' }, /U must name a user and no password/],
    [{ U: 'amqp://a@rabbitmq', U_PASSWORD_FILE: join(dir, 'missing') }, /cannot be read/],
  ])('refuses what it cannot use (%o)', (source, message) => {
    expect(() => readUrlWithPassword(source, 'U', 'U_PASSWORD')).toThrow(message);
  });
});
