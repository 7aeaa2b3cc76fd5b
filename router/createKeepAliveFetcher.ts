import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Fetcher, FetcherResponse } from '@apollo/utils.fetcher';
import { bodyDigest, type HopSigner } from '../lib/server/createInternalHop.js';

/**
 * The gateway's subgraph fetcher: plain `http.request` over keep-alive agents, the body read
 * whole (subgraph answers are small JSON). The default, make-fetch-happen, builds a cache-aware
 * request, an agent key and a stack trace per call; profiling the router under load put a
 * sixth of its CPU there (see bench/README figures).
 */
export function createKeepAliveFetcher(options: {
  timeoutMs: number;
  /** Signs each request for the subgraphs: its method, target, headers and body. */
  sign: HopSigner;
}): Fetcher {
  const agents = {
    'http:': new Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new HttpsAgent({ keepAlive: true, maxSockets: 256 }),
  };
  return (url, init = {}) =>
    new Promise<FetcherResponse>((resolve, reject) => {
      const target = new URL(url);
      const send = target.protocol === 'https:' ? httpsRequest : request;
      const method = init.method ?? 'GET';
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(init.headers ?? {}))
        headers[name.toLowerCase()] = value;
      const signature = options.sign({
        method,
        target: `${target.pathname}${target.search}`,
        headers,
        body: bodyDigest(init.body),
      });
      const req = send(
        target,
        {
          method,
          headers: { ...headers, ...signature },
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
