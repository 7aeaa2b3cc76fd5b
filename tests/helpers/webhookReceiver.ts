import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** Wall-clock time of arrival (Date.now()), to compare with times the stack reports. */
  at: number;
}

/** How the receiver answers one request: a status, after a wait. */
export interface Answer {
  status: number;
  delayMs?: number;
}

/** A real HTTP server on loopback that takes webhooks, as a user's backend would. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port><path>`. */
  url(path: string): string;
  /** The answers for `path`, one per request in order; after them, 200. */
  script(path: string, answers: Answer[]): void;
  received(path: string): ReceivedWebhook[];
  /** Resolves once `path` has received `count` requests, or rejects after `timeoutMs`. */
  waitFor(path: string, count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const scripts = new Map<string, Answer[]>();
  const waiting = new Set<() => void>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({
        path,
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        at: Date.now(),
      });
      for (const wake of waiting) wake();
      const answer = scripts.get(path)?.shift() ?? { status: 200 };
      setTimeout(() => {
        if (!res.destroyed) res.writeHead(answer.status).end(`answer ${answer.status}`);
      }, answer.delayMs ?? 0);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const on = (path: string) => received.filter((r) => r.path === path);

  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    script: (path, answers) => scripts.set(path, [...answers]),
    received: on,
    waitFor: (path, count, timeoutMs = 15_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (on(path).length < count) return;
          clearTimeout(timer);
          waiting.delete(check);
          resolve(on(path));
        };
        const timer = setTimeout(() => {
          waiting.delete(check);
          reject(new Error(`${path}: ${on(path).length} of ${count} webhooks in ${timeoutMs} ms`));
        }, timeoutMs);
        waiting.add(check);
        check();
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
