import { readFileSync } from 'node:fs';
import { generate } from '@graphql-codegen/cli';
import {
  buildClientSchema,
  buildSchema,
  lexicographicSortSchema,
  printSchema,
  type GraphQLSchema,
  type IntrospectionQuery,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SCHEMA_PATHS } from '../lib/contracts/subgraphs.js';
import { forgeTokens, generateEd25519Pem } from './helpers/forgeTokens.js';
import { LOG_IN, PASSWORD, SIGN_UP } from './helpers/authOperations.js';
import { errorCodes, postGraphQL } from './helpers/graphql.js';
import { spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { NESTED_INTROSPECTION, STANDARD_INTROSPECTION } from './helpers/introspection.js';
import { postGraphQLAsRouter } from './helpers/routerHop.js';
import { uniqueName } from './helpers/uniqueName.js';

interface Payload {
  token: string;
  expiresAt: string;
  user: { id: string; email: string };
}

describe('auth end to end through the router', () => {
  const infra = inject('infra');
  const privateKeyPem = generateEd25519Pem();
  let stack: RunningStack;

  beforeAll(async () => {
    stack = await spawnStack(infra, `${uniqueName('e2e')}_`, {
      JWT_PRIVATE_KEY: privateKeyPem,
      LOGIN_MAX_FAILURES_PER_EMAIL: '3',
      LOGIN_WINDOW_SECONDS: '2',
      MAX_QUERY_DEPTH: '6',
      MAX_REQUEST_BYTES: '4096',
    });
  });
  afterAll(async () => {
    if (stack) await stack.stop();
  });

  const signUp = (email: string, password = PASSWORD) =>
    postGraphQL<{ signUp: Payload }>(stack.graphqlUrl, SIGN_UP, { variables: { email, password } });
  const logIn = (email: string, password: string) =>
    postGraphQL<{ logIn: Payload }>(stack.graphqlUrl, LOG_IN, { variables: { email, password } });
  const basicLogin = (email: string, password: string) =>
    fetch(`${stack.routerUrl}/auth/login`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${email}:${password}`).toString('base64')}` },
    });
  // Straight at auth, as the router would call it (signed), so only the token is at fault.
  const me = (token: string, url = stack.graphqlUrl) =>
    url === stack.graphqlUrl
      ? postGraphQL(url, '{ me { id email } }', { token })
      : postGraphQLAsRouter(stack.env, url, '{ me { id email } }', { token });

  it('signs up, logs in by mutation and by HTTP Basic, and answers me for each token', async () => {
    const email = `${uniqueName('flow')}@example.com`;
    const created = (await signUp(email)).body.data?.signUp;
    expect(created?.user.email).toBe(email);
    expect(new Date(created?.expiresAt ?? 0).getTime() - Date.now()).toBeGreaterThan(3500_000);

    const viaMutation = (await logIn(email, PASSWORD)).body.data?.logIn;
    expect(viaMutation?.user.id).toBe(created?.user.id);

    const viaBasic = await basicLogin(email, PASSWORD);
    expect(viaBasic.status).toBe(200);
    const basicBody = (await viaBasic.json()) as { token: string; expiresAt: string };

    for (const token of [created?.token, viaMutation?.token, basicBody.token]) {
      expect((await me(token ?? '')).body.data).toEqual({ me: { id: created?.user.id, email } });
    }
  });

  it('refuses a duplicate sign-up, whatever the case of the email', async () => {
    const email = `${uniqueName('dup')}@example.com`;
    await signUp(email);
    const again = await signUp(email.toUpperCase());
    expect(again.body.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'email',
      reason: 'EMAIL_TAKEN',
    });
  });

  it('refuses bad passwords with the reason', async () => {
    const email = `${uniqueName('bad')}@example.com`;
    expect((await signUp(email, 'too short')).body.errors?.[0]?.extensions).toMatchObject({
      reason: 'PASSWORD_TOO_SHORT',
    });
    expect((await signUp(email, email)).body.errors?.[0]?.extensions).toMatchObject({
      reason: 'PASSWORD_IS_EMAIL',
    });
    expect((await logIn(email, PASSWORD)).body.errors?.[0]?.extensions?.code).toBe(
      'UNAUTHENTICATED',
    );
  });

  it('rejects forged, expired and misdirected tokens with UNAUTHENTICATED at the router and at auth', async () => {
    const email = `${uniqueName('forge')}@example.com`;
    const { token, user } = (await signUp(email)).body.data?.signUp ?? {
      token: '',
      user: { id: '' },
    };
    const forged = await forgeTokens(
      { privateKeyPem, issuer: 'reelflux', audience: 'reelflux' },
      user.id,
      token,
    );
    const authGraphql = `${stack.subgraphUrls.auth}/graphql`;
    for (const [kind, bad] of Object.entries(forged)) {
      for (const url of [stack.graphqlUrl, authGraphql]) {
        const response = await me(bad, url);
        expect.soft(response.status, `${kind} at ${url}`).toBe(401);
        expect.soft(errorCodes(response), `${kind} at ${url}`).toEqual(['UNAUTHENTICATED']);
        expect.soft(response.body.data ?? null, `${kind} at ${url}`).toBeNull();
      }
    }
    const garbage = await postGraphQL(stack.graphqlUrl, '{ me { id } }', {
      headers: { authorization: 'Token abc' },
    });
    expect(errorCodes(garbage)).toEqual(['UNAUTHENTICATED']);
  });

  it('rate-limits repeated failures through the router and clears after the window', async () => {
    const email = `${uniqueName('brute')}@example.com`;
    await signUp(email);
    for (let i = 0; i < 3; i++)
      expect(errorCodes(await logIn(email, `wrong guess ${i}`))).toEqual(['UNAUTHENTICATED']);
    const limited = await logIn(email, PASSWORD);
    expect(limited.body.errors?.[0]?.extensions).toMatchObject({ code: 'RATE_LIMITED' });
    const basic = await basicLogin(email, PASSWORD);
    expect(basic.status).toBe(429);
    expect(Number(basic.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);

    await new Promise((resolve) => setTimeout(resolve, 2_100));
    expect((await logIn(email, PASSWORD)).body.data?.logIn.token).toBeTruthy();
  });

  it('answers HTTP Basic failures with 401 and a challenge', async () => {
    const response = await basicLogin(`${uniqueName('nobody')}@example.com`, 'whatever it is');
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Basic realm="reelflux"/);
  });

  it('refuses queries deeper than the limit with QUERY_TOO_DEEP', async () => {
    const deep = '{ videos { edges { node { conversions { edges { node { id } } } } } } }';
    const response = await postGraphQL(stack.graphqlUrl, deep);
    expect(response.status).toBe(400);
    expect(errorCodes(response)).toEqual(['QUERY_TOO_DEEP']);
    const shallow = await postGraphQL(stack.graphqlUrl, '{ me { id } }');
    expect(shallow.body).toEqual({ data: { me: null } });
  });

  describe('introspection, on in development', () => {
    const printSorted = (schema: GraphQLSchema) => printSchema(lexicographicSortSchema(schema));
    const api = printSorted(buildSchema(readFileSync(SCHEMA_PATHS.api, 'utf8')));

    it.each([
      ['without options', STANDARD_INTROSPECTION.plain],
      ['with every option', STANDARD_INTROSPECTION.full],
    ])('answers the standard query %s with schema/api.graphql', async (_, query) => {
      const response = await postGraphQL<IntrospectionQuery>(stack.graphqlUrl, query);
      expect(response.status).toBe(200);
      expect(response.body.errors).toBeUndefined();
      expect(printSorted(buildClientSchema(response.body.data as IntrospectionQuery))).toBe(api);
    });

    it('lets graphql-codegen load the schema from the router', async () => {
      const [output] = (await generate(
        {
          schema: stack.graphqlUrl,
          generates: { 'schema.graphql': { plugins: ['schema-ast'] } },
          silent: true,
        },
        false,
      )) as { content: string }[];
      expect(printSorted(buildSchema(output?.content ?? ''))).toBe(api);
    });

    it('refuses introspection nested three lists deep with QUERY_TOO_DEEP', async () => {
      const response = await postGraphQL(stack.graphqlUrl, NESTED_INTROSPECTION);
      expect(response.status).toBe(400);
      expect(errorCodes(response)).toEqual(['QUERY_TOO_DEEP']);
      expect(response.body.data).toBeUndefined();
    });

    it('holds the rest of a mixed operation to MAX_QUERY_DEPTH (6) as if alone', async () => {
      const types = '__schema { types { fields { type { ofType { ofType { name } } } } } }';
      const shallow = await postGraphQL(stack.graphqlUrl, `{ ${types} me { id } }`);
      expect(shallow.body.errors).toBeUndefined();
      expect(shallow.body.data?.me).toBeNull();
      const deep = await postGraphQL(
        stack.graphqlUrl,
        `{ ${types} videos { edges { node { conversions { edges { node { id } } } } } } }`,
      );
      expect(deep.status).toBe(400);
      expect(errorCodes(deep)).toEqual(['QUERY_TOO_DEEP']);
      expect(deep.body.errors?.[0]?.message).toBe('Query depth 7 exceeds the limit of 6');
    });
  });

  it('refuses bodies over the limit with 413 PAYLOAD_TOO_LARGE, and malformed JSON with 400', async () => {
    const big = await postGraphQL(stack.graphqlUrl, `{ me { id } } # ${'x'.repeat(5000)}`);
    expect(big.status).toBe(413);
    expect(errorCodes(big)).toEqual(['PAYLOAD_TOO_LARGE']);
    const broken = await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query": ',
    });
    expect(broken.status).toBe(400);
    expect(
      ((await broken.json()) as { errors: { extensions: { code: string } }[] }).errors[0]
        ?.extensions.code,
    ).toBe('BAD_REQUEST');
  });

  it('keeps CSRF prevention on: simple requests without a preflight header are refused', async () => {
    const get = await fetch(`${stack.graphqlUrl}?query=${encodeURIComponent('{ me { id } }')}`);
    expect(get.status).toBe(400);
    expect(await get.text()).toMatch(/CSRF/);
    const textPlain = await fetch(stack.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{"query":"{ me { id } }"}',
    });
    expect(textPlain.status).toBe(400);
    const withPreflight = await fetch(
      `${stack.graphqlUrl}?query=${encodeURIComponent('{ me { id } }')}`,
      {
        headers: { 'apollo-require-preflight': 'true' },
      },
    );
    expect(await withPreflight.json()).toEqual({ data: { me: null } });
  });

  it('serves Apollo Sandbox to browsers on GET /graphql', async () => {
    const page = await fetch(stack.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page.text()).toMatch(/sandbox/i);
  });

  it('exposes health, readiness and Prometheus metrics on its internal port only', async () => {
    const internal = stack.internalUrls.router;
    expect((await fetch(`${internal}/healthz`)).status).toBe(200);
    const wrongMethod = await fetch(`${internal}/healthz`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD');
    expect(
      ((await wrongMethod.json()) as { errors: { extensions: { code: string } }[] }).errors[0]
        ?.extensions.code,
    ).toBe('METHOD_NOT_ALLOWED');
    expect(await (await fetch(`${internal}/readyz`)).json()).toEqual({ status: 'ready' });
    const metrics = await (await fetch(`${internal}/metrics`)).text();
    expect(metrics).toMatch(
      /http_requests_total\{route="\/graphql",method="POST",status="200",service="router"\} \d+/,
    );
    expect(metrics).toMatch(/process_resident_memory_bytes\{service="router"\}/);
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect((await fetch(`${stack.routerUrl}${path}`)).status, path).toBe(404);
    }
  });

  it('stops every process cleanly on Ctrl-C', async () => {
    const code = await stack.stop();
    expect(code).toBe(0);
    // Each exited by itself after draining: code 0, not SIGKILL after the grace period.
    expect(stack.output()).toMatch(/router +\| stopped \(code 0\)/);
    expect(stack.output()).toMatch(/auth +\| stopped \(code 0\)/);
    await expect(fetch(`${stack.routerUrl}/graphql`)).rejects.toThrow();
    await expect(fetch(`${stack.internalUrls.router}/healthz`)).rejects.toThrow();
    await expect(fetch(`${stack.internalUrls.auth}/healthz`)).rejects.toThrow();
  });
});
