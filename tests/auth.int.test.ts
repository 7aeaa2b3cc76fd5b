import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { bodyDigest, createInternalHop, HOP_HEADER } from '../lib/server/createInternalHop.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createLogger } from '../lib/platform/logger.js';
import { loadAuthConfig } from '../subgraphs/auth/config.js';
import { createAuthServer } from '../subgraphs/auth/server.js';
import { generateEd25519Pem } from './helpers/forgeTokens.js';
import { LOG_IN, PASSWORD, SIGN_UP } from './helpers/authOperations.js';
import { errorCodes } from './helpers/graphql.js';
import { postGraphQLAsRouter, routerHopHeaders } from './helpers/routerHop.js';
import { dropDatabases } from '../scripts/spawnStack.js';
import { uniqueName } from './helpers/uniqueName.js';

describe('auth subgraph against the real database', () => {
  const infra = inject('infra');
  const dbPrefix = `${uniqueName('int')}_`;
  let server: Server;
  let stop: () => Promise<void>;
  let base: string;
  let internalBase: string;
  let graphql: string;
  let mongo: MongoClient;
  const hopSecret = randomBytes(32).toString('hex');
  /** Where routerHop's helpers find the secret: requests are signed as the router signs them. */
  const hopEnv = { INTERNAL_HOP_SECRET: hopSecret };

  /**
   * An auth server on a free port. Its login window is short where a test waits for it to
   * clear; tests that pile up failures get a long one, so a slow machine's argon2 cannot let
   * the first failures expire before the last.
   */
  async function startAuth(windowSeconds: number) {
    const config = loadAuthConfig({
      MONGODB_URI: infra.mongodbUri,
      DB_PREFIX: dbPrefix,
      JWT_PRIVATE_KEY: generateEd25519Pem(),
      LOGIN_MAX_FAILURES_PER_EMAIL: '3',
      LOGIN_MAX_FAILURES_PER_CLIENT: '6',
      LOGIN_MAX_FAILURES_PER_EMAIL_FROM_NEW_CLIENTS: '4',
      LOGIN_WINDOW_SECONDS: String(windowSeconds),
      // Sign-ups here all come from one address; cost.e2e tests their limit.
      SIGNUPS_PER_CLIENT_PER_HOUR: '1000',
      INTERNAL_HOP_SECRET: hopSecret,
    });
    const app = await createAuthServer(config, createLogger('auth', 'silent'));
    const listening = createServer(app.listener);
    const internal = createServer(app.internalListener);
    for (const server of [listening, internal])
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = (server: Server) => `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return {
      server: listening,
      stop: async () => {
        await new Promise((resolve) => internal.close(resolve));
        await app.stop();
      },
      base: url(listening),
      internalBase: url(internal),
    };
  }
  let longWindow: Awaited<ReturnType<typeof startAuth>>;

  beforeAll(async () => {
    const auth = await startAuth(2);
    ({ server, stop, base, internalBase } = auth);
    graphql = `${base}/graphql`;
    longWindow = await startAuth(60);
    mongo = new MongoClient(infra.mongodbUri);
  });

  afterAll(async () => {
    for (const auth of [{ server, stop }, longWindow]) {
      if (!auth?.server) continue; // it never started: beforeAll's error says why
      await new Promise((resolve) => auth.server.close(resolve));
      await auth.stop();
    }
    await mongo.close();
    await dropDatabases(infra.mongodbUri, dbPrefix);
  });

  const signUp = (email: string, password = PASSWORD, headers: Record<string, string> = {}) =>
    postGraphQLAsRouter<{ signUp: { token: string; user: { id: string; email: string } } }>(
      hopEnv,
      graphql,
      SIGN_UP,
      { variables: { email, password }, headers },
    );
  const logIn = (email: string, password: string, client = '192.0.2.1', url = graphql) =>
    postGraphQLAsRouter<{ logIn: { token: string; user: { id: string } } }>(hopEnv, url, LOG_IN, {
      variables: { email, password },
      headers: { 'x-forwarded-for': client },
    });
  /** A login to the long-window server. */
  const logInLong = (email: string, password: string, client: string) =>
    logIn(email, password, client, `${longWindow.base}/graphql`);

  it('signs up with an argon2id hash, normalised email, and a token that works for me', async () => {
    const email = `${uniqueName('user')}@Example.com`;
    const response = await signUp(`  ${email.toUpperCase()} `);
    const payload = response.body.data?.signUp;
    expect(response.body.errors).toBeUndefined();
    expect(payload?.user.email).toBe(email.toLowerCase());

    const stored = await mongo
      .db(`${dbPrefix}auth`)
      .collection('users')
      .findOne({ email: email.toLowerCase() });
    expect(stored?.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
    expect(JSON.stringify(stored)).not.toContain(PASSWORD);

    const me = await postGraphQLAsRouter(hopEnv, graphql, '{ me { id email } }', {
      token: payload?.token ?? '',
    });
    expect(me.body.data).toEqual({ me: { id: payload?.user.id, email: email.toLowerCase() } });
  });

  it('lets exactly one of many racing sign-ups for one email win', async () => {
    const email = `${uniqueName('race')}@example.com`;
    const results = await Promise.all(Array.from({ length: 8 }, () => signUp(email)));
    const winners = results.filter((r) => r.body.data?.signUp);
    const losers = results.flatMap((r) => r.body.errors ?? []);
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(7);
    for (const error of losers)
      expect(error.extensions).toMatchObject({ code: 'BAD_USER_INPUT', reason: 'EMAIL_TAKEN' });
    expect(await mongo.db(`${dbPrefix}auth`).collection('users').countDocuments({ email })).toBe(1);
  });

  it('refuses weak passwords with the field and reason named, and stores nothing', async () => {
    const email = `${uniqueName('weak')}@example.com`;
    const short = await signUp(email, 'short');
    expect(short.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'password',
      reason: 'PASSWORD_TOO_SHORT',
    });
    const same = await signUp(email, email);
    expect(same.body.errors?.[0]?.extensions).toMatchObject({ reason: 'PASSWORD_IS_EMAIL' });
    expect(await mongo.db(`${dbPrefix}auth`).collection('users').countDocuments({ email })).toBe(0);
  });

  it('answers a wrong password and an unknown email identically', async () => {
    const email = `${uniqueName('same')}@example.com`;
    await signUp(email);
    const wrong = await logIn(email, 'not the password', '192.0.2.50');
    const unknown = await logIn(
      `${uniqueName('nobody')}@example.com`,
      'not the password',
      '192.0.2.51',
    );
    expect(wrong.body.errors).toEqual(unknown.body.errors);
    expect(errorCodes(wrong)).toEqual(['UNAUTHENTICATED']);
  });

  it('limits failures per email and address, then clears after the window', async () => {
    const email = `${uniqueName('brute')}@example.com`;
    await signUp(email);
    // At once: all three are counted as they arrive, before argon2 checks any of them.
    const guesses = [0, 1, 2].map((i) => logIn(email, `guess number ${i}`, '198.51.100.1'));
    for (const guess of await Promise.all(guesses))
      expect(errorCodes(guess)).toEqual(['UNAUTHENTICATED']);

    // Refused even with the right password, from that address.
    const locked = await logIn(email, PASSWORD, '198.51.100.1');
    expect(locked.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    const wait = locked.body.errors?.[0]?.extensions?.retryAfterSeconds;
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(2);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    const after = await logIn(email, PASSWORD, '198.51.100.1');
    expect(after.body.data?.logIn.token).toBeTruthy();
  });

  it('counts concurrent guesses before checking them: a burst gets no more tries', async () => {
    const email = `${uniqueName('burst')}@example.com`;
    await signUp(email);
    const guesses = Array.from({ length: 20 }, (_, i) =>
      logInLong(email, i === 10 ? PASSWORD : `guess number ${i}`, '198.51.100.20'),
    );
    const codes = (await Promise.all(guesses)).map((response) => errorCodes(response)[0]);
    // Three places in the window: at most three passwords were checked at all.
    expect(codes.filter((code) => code !== 'RATE_LIMITED').length).toBeLessThanOrEqual(3);
    expect(codes.filter((code) => code === 'RATE_LIMITED').length).toBeGreaterThanOrEqual(17);
  });

  it('guesses spread over addresses stop new addresses, never the owner at a known one', async () => {
    const email = `${uniqueName('owner')}@example.com`;
    await signUp(email);
    expect((await logInLong(email, PASSWORD, '198.51.100.50')).body.data?.logIn.token).toBeTruthy();
    for (let i = 0; i < 4; i++)
      expect(errorCodes(await logInLong(email, 'wrong password', `198.51.100.${60 + i}`))).toEqual([
        'UNAUTHENTICATED',
      ]);
    // A fifth new address is refused, right password or not ...
    expect(errorCodes(await logInLong(email, PASSWORD, '198.51.100.70'))).toEqual(['RATE_LIMITED']);
    // ... but the owner, at the address it logged in from before, gets in.
    expect((await logInLong(email, PASSWORD, '198.51.100.50')).body.data?.logIn.token).toBeTruthy();
  });

  it('limits failures per client address across emails, without blocking other clients', async () => {
    const client = '203.0.113.7';
    for (let i = 0; i < 6; i++)
      await logInLong(`${uniqueName('spray')}@example.com`, 'wrong password', client);
    const email = `${uniqueName('victim')}@example.com`;
    await signUp(email);
    expect(errorCodes(await logInLong(email, PASSWORD, client))).toEqual(['RATE_LIMITED']);
    expect((await logInLong(email, PASSWORD, '203.0.113.8')).body.data?.logIn.token).toBeTruthy();
  });

  it('logs in with HTTP Basic, and challenges bad credentials', async () => {
    const email = `${uniqueName('basic')}@example.com`;
    await signUp(email);
    const basic = (user: string, pass: string) => {
      const headers = {
        authorization: `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
        'x-forwarded-for': '192.0.2.77',
      };
      const url = `${base}/auth/login`;
      return fetch(url, {
        method: 'POST',
        headers: { ...headers, ...routerHopHeaders(hopEnv, { url, headers }) },
      });
    };
    const ok = await basic(email, PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    const body = (await ok.json()) as { token: string; expiresAt: string };
    expect(body.token.split('.')).toHaveLength(3);
    expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now());

    const bad = await basic(email, 'wrong password');
    expect(bad.status).toBe(401);
    expect(bad.headers.get('www-authenticate')).toMatch(/^Basic realm="reelflux"/);
    const none = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: routerHopHeaders(hopEnv, { url: `${base}/auth/login` }),
    });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Basic/);
  });

  it('answers only requests the router signed, and believes a client address only from them', async () => {
    const unsigned = await fetch(graphql, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ me { id } }' }),
    });
    expect(unsigned.status).toBe(403);
    expect(await unsigned.json()).toMatchObject({
      errors: [{ extensions: { code: 'FORBIDDEN' } }],
    });
    // What the router signs for `{ me { id } }` from 192.0.2.9, with a key and a time.
    const body = JSON.stringify({ query: '{ me { id } }' });
    const signature = (key: Uint8Array, at = new Date()) =>
      createInternalHop(key).sign(
        {
          method: 'POST',
          target: '/graphql',
          headers: { 'x-forwarded-for': '192.0.2.9' },
          body: bodyDigest(body),
        },
        at,
      );
    const send = (hop: string, headers: Record<string, string> = {}, sent = body) =>
      fetch(graphql, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-forwarded-for': '192.0.2.9',
          [HOP_HEADER]: hop,
          ...headers,
        },
        body: sent,
      });
    const key = new TextEncoder().encode(hopSecret);
    expect((await send(signature(key))).status).toBe(200);
    // Older than the window, made with another key, or sent with another address, token,
    // request size, body or path than it was made for: refused.
    expect((await send(signature(key, new Date(Date.now() - 60_000)))).status).toBe(403);
    expect((await send(signature(randomBytes(32)))).status).toBe(403);
    expect((await send(signature(key), { 'x-forwarded-for': '192.0.2.10' })).status).toBe(403);
    expect((await send(signature(key), { authorization: 'Bearer x.y.z' })).status).toBe(403);
    expect((await send(signature(key), { 'x-client-request-bytes': '5' })).status).toBe(403);
    const otherBody = JSON.stringify({ query: '{ me { email } }' });
    expect((await send(signature(key), {}, otherBody)).status).toBe(403);
    const otherPath = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { 'x-forwarded-for': '192.0.2.9', [HOP_HEADER]: signature(key) },
    });
    expect(otherPath.status).toBe(403);
    const login = await fetch(`${base}/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('a@example.com:x').toString('base64')}` },
    });
    expect(login.status).toBe(403);
  });

  it('publishes its public key and reports ready', async () => {
    const jwks = (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, unknown>[];
    };
    expect(jwks.keys).toHaveLength(1);
    expect(jwks.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(jwks.keys[0]).not.toHaveProperty('d');
    expect((await fetch(`${internalBase}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(404);
  });
});
