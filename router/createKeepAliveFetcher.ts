import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';

/**
 * The gateway's subgraph fetcher: plain `http.request` over keep-alive agents, the body read
 * whole (subgraph answers are small JSON). The default, make-fetch-happen, builds a cache-aware
 * request, an agent key and a stack trace per call; profiling the router under load put a
 * sixth of its CPU there (see bench/README figures).
 */
export function createKeepAliveFetcher(options: {
  timeoutMs: number;
  /** Headers added to every request (the router's signature for the subgraphs). */
  headers: () => Record<string, string>;
}): Fetcher {
  const agents = {
    'http:': new Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
  };
  return (url, init = {}) =>
    new Promise<FetcherResponse>((resolve, reject) => {
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : request;
      const req = send(
        target,
        {
          method: init.method ?? 'GET',
          headers: { ...init.headers, ...options.headers() },
          agent: agents[target.protocol === 'https:' ? 'https:' : 'http:'],
          timeout: options.timeoutMs,
          ...(init.signal ? { signal: init.signal as AbortSignal } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined)
                headers.set(name, Array.isArray(value) ? value.join(', ') : value);
            }
            resolve(
              bufferedResponse(
                url,
                res.statusCode ?? 0,
                res.statusMessage ?? '',
                headers,
                Buffer.concat(chunks),
              ),
            );
          });
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`subgraph did not answer within ${options.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(init.body);
    });
}

function bufferedResponse(
  url: string,
  status: number,
  statusText: string,
  headers: Headers,
  body: Buffer,
): FetcherResponse {
  return {
    url,
    status,
    statusText,
    headers,
    ok: status >= 200 && status < 300,
    redirected: false,
    bodyUsed: false,
    text: () => Promise.resolve(body.toString('utf8')),
    json: () => Promise.resolve(JSON.parse(body.toString('utf8')) as unknown),
    arrayBuffer: () =>
      Promise.resolve(
        body.buffer.slice(body.byteOffset, body.byteOffset + body.byteLength) as ArrayBuffer,
      ),
    clone: () => bufferedResponse(url, status, statusText, headers, body),
  };
}
