import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { HOP_MAX_AGE_SECONDS } from '../lib/server/createInternalHop.js';
import { freePort, spawnStack, type RunningStack } from '../scripts/spawnStack.js';
import { LOG_IN, PASSWORD, SIGN_UP } from './helpers/authOperations.js';
import { errorCodes, postGraphQL, type GraphQLResponse, tallyCodes } from './helpers/graphql.js';
import {
  startRecordingProxy,
  type RecordedRequest,
  type RecordingProxy,
} from './helpers/recordingProxy.js';
import { postGraphQLAsRouter } from './helpers/routerHop.js';
import { openSocket } from './helpers/watch.js';
import { expectSecurityTable } from './helpers/expectSecurityTable.js';
import { uniqueName } from './helpers/uniqueName.js';

/** What the stack allows, small enough to reach here (SECURITY.md names the same). */
const SIGNUPS_PER_CLIENT_PER_HOUR = 3;
const SIGNUPS_PER_HOUR = 12;
const WEBSOCKETS_PER_ADDRESS = 3;

/**
 * The edges of the deployment (SECURITY.md, "Edges"): what the public ports answer, whether a
 * signature seen between the router and a subgraph can be used for anything else, how client
 * addresses are counted, and what federation's `_entities` costs. Every row of that table is
 * tried here, and the table must say exactly what happened. A recording relay stands between
 * the router and auth, as anyone who can watch the traffic inside the cluster would.
 */
describe('edges (SECURITY.md)', { timeout: 300_000 }, () => {
  const infra = inject('infra');
  const prefix = `${uniqueName('edges')}_`;
  const outcomes = new Map<string, string>();
  let stack: RunningStack;
  let proxy: RecordingProxy;
  /** Auth itself, behind the relay. */
  let authUrl: string;
  /** Sign-ups the service counted against its hourly budget (refused ones are not). */
  let signUpsTaken = 0;
  /** A request the router signed, and when: replayed as it was, later. */
  let captured: { request: RecordedRequest; at: number } | undefined;

  const codeOf = (body: unknown) => {
    const code = errorCodes({ body: body as GraphQLResponse['body'] })[0];
    return typeof code === 'string' ? code : 'none';
  };
  /** A new account, signed up through the router as the client at `address`. */
  const signUpFrom = async (address: string) => {
    const email = `${uniqueName('edge')}@example.com`;
    const response = await postGraphQL<{ signUp: { token: string } }>(stack.graphqlUrl, SIGN_UP, {
      variables: { email, password: PASSWORD },
      headers: { 'x-forwarded-for': address },
    });
    const code = codeOf(response.body);
    if (code !== 'RATE_LIMITED') signUpsTaken++;
    return { email, code, response, token: response.body.data?.signUp.token ?? '' };
  };
  /** The last request the router sent auth that `matches`, as the relay saw it. */
  const recorded = (matches: (request: RecordedRequest, body: string) => boolean) => {
    const found = proxy.requests.findLast((request) => matches(request, request.body.toString()));
    if (!found) throw new Error('the router sent auth no such request');
    return found;
  };
  /**
   * A recorded request sent straight to auth again, its signature and headers as they were,
   * but for `path`, `headers` and `body` where given. Answers `HTTP <status> <code>`.
   */
  const replay = async (
    request: RecordedRequest,
    change: { path?: string; headers?: Record<string, string>; body?: string } = {},
  ) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (['host', 'connection', 'content-length'].includes(name) || value === undefined) continue;
      headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    const response = await fetch(`${authUrl}${change.path ?? request.url}`, {
      method: request.method,
      headers: { ...headers, ...change.headers },
      body: change.body ?? request.body.toString(),
    });
    const text = await response.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = {};
    }
    return `HTTP ${response.status} ${codeOf(body)}`;
  };

  beforeAll(async () => {
    const authPort = await freePort();
    authUrl = `http://127.0.0.1:${authPort}`;
    proxy = await startRecordingProxy(authPort);
    stack = await spawnStack(infra, prefix, {
      // Each request names its client in X-Forwarded-For, as a load balancer in front would.
      TRUSTED_PROXY_HOPS: '1',
      INTROSPECTION: 'false',
      SIGNUPS_PER_CLIENT_PER_HOUR: String(SIGNUPS_PER_CLIENT_PER_HOUR),
      SIGNUPS_PER_HOUR: String(SIGNUPS_PER_HOUR),
      MAX_WEBSOCKETS_PER_ADDRESS: String(WEBSOCKETS_PER_ADDRESS),
      AUTH_PORT: String(authPort),
      AUTH_URL: proxy.url,
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await proxy?.close();
  });

  it('serves health, readiness and metrics on internal ports only', async () => {
    const status = async (url: string) => (await fetch(url)).status;
    // fetch() resolves the dots itself: `/files/%2e%2e/metrics` goes out as `/metrics`.
    const routerPaths = ['/metrics', '/readyz', '/healthz', '/files/%2e%2e/metrics'];
    const router = await Promise.all(
      routerPaths.map((path) => status(`${stack.routerUrl}${path}`)),
    );
    outcomes.set('edge.metricsPublic', `HTTP ${router.join(', ')}`);

    const paths = ['/metrics', '/readyz', '/healthz'];
    const distinct = async (bases: string[]) => {
      const statuses = await Promise.all(
        bases.flatMap((base) => paths.map((path) => status(`${base}${path}`))),
      );
      return `HTTP ${[...new Set(statuses)].sort().join(', ')}`;
    };
    outcomes.set('edge.metricsSubgraphs', await distinct(Object.values(stack.subgraphUrls)));
    const internal = Object.values(stack.internalUrls);
    expect(internal).toHaveLength(6);
    outcomes.set('edge.metricsInternal', await distinct(internal));
  });

  it('a signature seen between the router and auth fits that one request and no other', async () => {
    const owner = await signUpFrom('198.51.100.7');
    const signUp = recorded(
      (request, body) =>
        request.url === '/graphql' &&
        body.includes('signUp') &&
        request.headers['x-forwarded-for'] === '198.51.100.7',
    );
    const basic = `Basic ${Buffer.from(`${owner.email}:${PASSWORD}`).toString('base64')}`;
    outcomes.set(
      'edge.hopReplayOtherPath',
      await replay(signUp, { path: '/auth/login', headers: { authorization: basic }, body: '' }),
    );
    outcomes.set(
      'edge.hopReplayOtherAddress',
      await replay(signUp, { headers: { 'x-forwarded-for': '203.0.113.66' } }),
    );
    outcomes.set(
      'edge.hopReplayOtherBody',
      await replay(signUp, {
        body: JSON.stringify({
          query: LOG_IN,
          variables: { email: owner.email, password: PASSWORD },
        }),
      }),
    );

    // A query with a token: the router's request to auth carries the token it signed.
    const me = await postGraphQL(stack.graphqlUrl, '{ me { id email } }', {
      token: owner.token,
      headers: { 'x-forwarded-for': '198.51.100.7' },
    });
    expect(codeOf(me.body)).toBe('none');
    const query = recorded(
      (request, body) =>
        request.headers.authorization === `Bearer ${owner.token}` &&
        /\bme\b/.test(body) &&
        !body.includes('_entities'),
    );
    captured = { request: query, at: Date.now() };
    const other = await signUpFrom('198.51.100.8');
    outcomes.set(
      'edge.hopReplayOtherToken',
      await replay(query, { headers: { authorization: `Bearer ${other.token}` } }),
    );
    outcomes.set('edge.hopReplayExact', await replay(query));
  });

  it('counts an IPv6 /64 as one client, and an IPv4-mapped address as the IPv4 one', async () => {
    const slash64 = [
      '2001:db8:a:b::1',
      '2001:db8:a:b:ffff::2',
      '2001:db8:a:b:1:2:3:4',
      '2001:db8:a:b::5',
    ];
    const sixes: string[] = [];
    for (const address of slash64) sixes.push((await signUpFrom(address)).code);
    outcomes.set('edge.ipv6Slash64Signups', tallyCodes(sixes));

    const mapped = ['203.0.113.20', '::ffff:203.0.113.20', '::ffff:cb00:7114', '203.0.113.20'];
    const fours: string[] = [];
    for (const address of mapped) fours.push((await signUpFrom(address)).code);
    outcomes.set('edge.ipv4MappedSignups', tallyCodes(fours));

    // Wrong passwords for one account from six addresses of another /64: five per email and
    // client address are allowed in the window.
    const target = await signUpFrom('198.51.100.9');
    const logins: string[] = [];
    for (let i = 1; i <= 6; i++) {
      const response = await postGraphQL(stack.graphqlUrl, LOG_IN, {
        variables: { email: target.email, password: `wrong guess ${i}` },
        headers: { 'x-forwarded-for': `2001:db8:c:d::${i}` },
      });
      logins.push(codeOf(response.body));
    }
    outcomes.set('edge.ipv6Slash64Logins', tallyCodes(logins));

    // Subscription sockets from four addresses of one /64: three are allowed per address.
    const sockets = ['2001:db8:e:f::1', '2001:db8:e:f::2', '2001:db8:e:f:1::3', '2001:db8:e:f::4']
      .slice(0, WEBSOCKETS_PER_ADDRESS + 1)
      .map((address) => openSocket(stack.graphqlUrl, target.token, { address }));
    const opened = await Promise.all(sockets.map((socket) => socket.opened));
    outcomes.set(
      'edge.ipv6Slash64Sockets',
      tallyCodes(opened.map((answer) => (answer === 'ack' ? 'open' : `close ${answer}`))),
    );
    for (const socket of sockets) socket.close();
  });

  it('prices _entities by its representations, even when only scalars are asked', async () => {
    const representations = Array.from({ length: 5001 }, (_, i) => ({
      __typename: 'User',
      id: i.toString(16).padStart(24, '0'),
    }));
    const response = await postGraphQLAsRouter(
      stack.env,
      `${authUrl}/graphql`,
      'query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id } } }',
      { variables: { r: representations } },
    );
    outcomes.set('edge.entitiesPrice', `HTTP ${response.status} ${codeOf(response.body)}`);
  });

  it('takes at most SIGNUPS_PER_HOUR sign-ups, whatever the addresses', async () => {
    let refused: Awaited<ReturnType<typeof signUpFrom>> | undefined;
    for (let i = 1; i <= 2 * SIGNUPS_PER_HOUR && !refused; i++) {
      const attempt = await signUpFrom(`192.0.2.${i}`);
      if (attempt.code === 'RATE_LIMITED') refused = attempt;
    }
    const wait = refused?.response.body.errors?.[0]?.extensions?.retryAfterSeconds;
    outcomes.set(
      'edge.globalSignupBudget',
      refused
        ? `RATE_LIMITED after ${signUpsTaken} sign-ups, ${typeof wait === 'number' && wait > 0 && wait <= 3600 ? 'retry within the hour' : `retryAfterSeconds ${String(wait)}`}`
        : `no refusal in ${2 * SIGNUPS_PER_HOUR}`,
    );
  });

  it('refuses the same signed request once the replay window is over', async () => {
    if (!captured) throw new Error('no request was captured');
    const late = captured.at + (HOP_MAX_AGE_SECONDS + 5) * 1000 - Date.now();
    if (late > 0) await sleep(late);
    outcomes.set('edge.hopReplayLate', await replay(captured.request));
  }, 120_000);

  it('SECURITY.md states exactly what happened, and nothing restarted', () => {
    // No request may end a process: the launcher restarted none.
    expect(stack.restarts(), stack.output()).toBe(0);
    expectSecurityTable(outcomes, 'Edges: what we tried, what happened');
  });
});
