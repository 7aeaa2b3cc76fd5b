import {
  createServer,
  type IncomingHttpHeaders,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { Webhook } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebhookUrlPolicy } from '../subgraphs/notification/webhooks/checkWebhookUrl.js';
import {
  sendWebhook,
  type SendWebhookOptions,
  type WebhookAttempt,
} from '../subgraphs/notification/webhooks/sendWebhook.js';
import { newWebhookSecret, signWebhook } from '../subgraphs/notification/webhooks/signWebhook.js';

/**
 * Real HTTP servers on loopback and Node's real HTTP client. Where a test needs a host name
 * to resolve to a chosen address, it injects `resolve`: that replaces DNS only, and the
 * connection is still made by the real client to whatever address the sender settles on.
 */

const local: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: true };
const publicOnly: WebhookUrlPolicy = { allowHttp: true, allowPrivateNetworks: false };

interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

interface Receiver {
  port: number;
  /** Requests whose body was read whole. */
  requests: Received[];
  /** TCP connections accepted, answered or not. */
  connections: number;
}

const servers: (Server | TlsServer)[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    if ('closeAllConnections' in server) server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function listen(server: Server | TlsServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A receiver that records each request, then lets `answer` reply (or not). */
async function receiver(answer: RequestListener): Promise<Receiver> {
  const requests: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (text: string) => (body += text));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res);
    });
  });
  const state = { port: 0, requests, connections: 0 };
  server.on('connection', () => (state.connections += 1));
  state.port = await listen(server);
  return state;
}

const body = JSON.stringify({ type: 'conversion.done', data: { title: 'Café ☕' } });

function signed(secret = newWebhookSecret()): Record<string, string> {
  return signWebhook({ id: 'msg_1', timestamp: new Date(), body, secrets: [secret] });
}

/** Sends `body`, signed, to `url`: within 5 s, private networks and http allowed. */
function send(url: string, options: Partial<SendWebhookOptions> = {}): Promise<WebhookAttempt> {
  return sendWebhook({
    url: new URL(url),
    headers: signed(),
    body,
    timeoutMs: 5_000,
    policy: local,
    ...options,
  });
}

describe('sendWebhook', () => {
  it('delivers the exact body and signed headers, which the reference library verifies', async () => {
    const hook = await receiver((_req, res) => res.writeHead(200).end('thanks'));
    const secret = newWebhookSecret();
    const headers = signed(secret);
    const attempt = await send(`http://127.0.0.1:${hook.port}/hooks/in?team=7`, { headers });
    expect(attempt).toMatchObject({
      statusCode: 200,
      ok: true,
      error: null,
      responseHead: 'thanks',
    });
    expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
    expect(hook.requests).toHaveLength(1);
    const [received] = hook.requests;
    expect(received).toMatchObject({ method: 'POST', url: '/hooks/in?team=7', body });
    expect(received?.headers).toMatchObject({
      ...headers,
      host: `127.0.0.1:${hook.port}`,
      'user-agent': 'REELFLUX-Webhooks/1',
      'content-length': String(Buffer.byteLength(body)),
    });
    const verified = new Webhook(secret).verify(
      received?.body ?? '',
      received?.headers as Record<string, string>,
    );
    expect(verified).toEqual(JSON.parse(body));
  });

  it('reports a 500 as not ok, with no more than the first 1024 bytes of a long answer', async () => {
    // 'x' and 511 two-byte characters make 1023 bytes: the 512th is cut at the limit.
    const answer = 'x' + 'é'.repeat(200_000);
    const hook = await receiver((_req, res) => res.writeHead(500).end(answer));
    const attempt = await send(`http://127.0.0.1:${hook.port}/`);
    expect(attempt).toMatchObject({ statusCode: 500, ok: false, error: null });
    expect(Buffer.byteLength(attempt.responseHead)).toBeLessThanOrEqual(1024);
    expect(attempt.responseHead).toBe('x' + 'é'.repeat(511));
  });

  it('gives up on a receiver that never answers within the time allowed', async () => {
    const hook = await receiver(() => undefined);
    const started = performance.now();
    const attempt = await send(`http://127.0.0.1:${hook.port}/`, { timeoutMs: 300 });
    const elapsed = performance.now() - started;
    expect(attempt).toMatchObject({ statusCode: null, ok: false, error: 'timeout' });
    expect(hook.requests).toHaveLength(1);
    expect(attempt.durationMs).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('reports a closed port as refused', async () => {
    const server = createServer();
    const port = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    const attempt = await send(`http://127.0.0.1:${port}/`);
    expect(attempt).toMatchObject({ statusCode: null, ok: false, error: 'refused' });
  });

  it('does not follow a redirect, even to another allowed receiver', async () => {
    const target = await receiver((_req, res) => res.writeHead(200).end());
    const hook = await receiver((_req, res) =>
      res.writeHead(302, { location: `http://127.0.0.1:${target.port}/` }).end('moved'),
    );
    const attempt = await send(`http://127.0.0.1:${hook.port}/`);
    expect(attempt).toMatchObject({
      statusCode: 302,
      ok: false,
      error: 'redirect not followed (302)',
      responseHead: 'moved',
    });
    expect(hook.requests).toHaveLength(1);
    expect(target.connections).toBe(0);
  });

  it('refuses a loopback URL without connecting when private networks are not allowed', async () => {
    const hook = await receiver((_req, res) => res.writeHead(200).end());
    const attempt = await send(`http://127.0.0.1:${hook.port}/`, { policy: publicOnly });
    expect(attempt).toMatchObject({
      statusCode: null,
      ok: false,
      error: 'private address 127.0.0.1',
    });
    expect(hook.connections).toBe(0);
  });

  it('refuses localhost by what the system resolver answers for it, without connecting', async () => {
    const hook = await receiver((_req, res) => res.writeHead(200).end());
    const attempt = await send(`http://localhost:${hook.port}/`, { policy: publicOnly });
    expect(attempt.error).toMatch(/^private address (127\.\d+\.\d+\.\d+|::1)$/);
    expect(hook.connections).toBe(0);
  });

  it('refuses a name with any private address, whichever comes first', async () => {
    for (const addresses of [
      [{ address: '10.0.0.1', family: 4 as const }],
      [
        { address: '93.184.215.14', family: 4 as const },
        { address: '10.0.0.1', family: 4 as const },
      ],
    ]) {
      const resolve = vi.fn(async () => addresses);
      const attempt = await send('https://hooks.example.test/in', { policy: publicOnly, resolve });
      expect(attempt).toMatchObject({ ok: false, error: 'private address 10.0.0.1' });
      expect(resolve).toHaveBeenCalledExactlyOnceWith('hooks.example.test');
    }
  });

  it('connects to the address it checked, whatever a second DNS answer would say', async () => {
    const hook = await receiver((_req, res) => res.writeHead(204).end());
    // A rebinding resolver: loopback first, then an address where nothing answers.
    const resolve = vi
      .fn<(hostname: string) => Promise<{ address: string; family: 4 | 6 }[]>>()
      .mockResolvedValueOnce([{ address: '127.0.0.1', family: 4 }])
      .mockResolvedValue([{ address: '192.0.2.1', family: 4 }]);
    const attempt = await send(`http://rebind.example.test:${hook.port}/in`, { resolve });
    expect(attempt).toMatchObject({ statusCode: 204, ok: true, error: null });
    expect(resolve).toHaveBeenCalledOnce();
    expect(hook.requests).toHaveLength(1);
    expect(hook.requests[0]?.headers.host).toBe(`rebind.example.test:${hook.port}`);
  });

  it('sends the host name as the TLS server name while connecting to the checked address', async () => {
    // No certificate: the server records the name the client asks for, then ends the handshake.
    const names: string[] = [];
    const tls = createTlsServer({
      SNICallback: (name, callback) => {
        names.push(name);
        callback(new Error('no certificate here'));
      },
    });
    tls.on('tlsClientError', () => undefined);
    const port = await listen(tls);
    const attempt = await send(`https://hooks.example.test:${port}/`, {
      resolve: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect(attempt).toMatchObject({ statusCode: null, ok: false });
    expect(attempt.error).not.toBeNull();
    expect(names).toEqual(['hooks.example.test']);
  });

  it('names a DNS failure, and bounds a resolver that never answers by the timeout', async () => {
    const notFound = Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
    const failing = await send('https://missing.example.test/', {
      policy: publicOnly,
      resolve: () => Promise.reject(notFound),
    });
    expect(failing).toMatchObject({ statusCode: null, ok: false, error: 'dns: ENOTFOUND' });
    const silent = await send('https://slow.example.test/', {
      timeoutMs: 300,
      policy: publicOnly,
      resolve: () => new Promise(() => undefined),
    });
    expect(silent).toMatchObject({ ok: false, error: 'timeout' });
    expect(silent.durationMs).toBeLessThan(1_000);
  });

  it('refuses plain http without connecting unless the policy allows it', async () => {
    const hook = await receiver((_req, res) => res.writeHead(200).end());
    const attempt = await send(`http://127.0.0.1:${hook.port}/`, {
      policy: { allowHttp: false, allowPrivateNetworks: true },
    });
    expect(attempt).toMatchObject({ ok: false, error: 'scheme not allowed (http:)' });
    expect(hook.connections).toBe(0);
  });
});
