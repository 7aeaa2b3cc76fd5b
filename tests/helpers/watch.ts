import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface Watched<T> {
  /** Every `next` payload, in order. */
  results: { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] }[];
  /** Resolves on `complete`; rejects with the `error` payload or the close event. */
  finished: Promise<void>;
  client: Client;
  /** Closes the socket without completing (a client that vanishes). */
  drop: () => void;
}

/** A graphql-ws client (the real library, over the `ws` package) subscribed to one operation. */
export function watch<T>(
  graphqlUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Watched<T> {
  let socket: WebSocket | undefined;
  const client = createClient({
    url: graphqlUrl.replace(/^http/, 'ws'),
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
    on: { connected: (s) => (socket = s as WebSocket) },
  });
  const results: Watched<T>['results'] = [];
  const finished = new Promise<void>((resolve, reject) => {
    client.subscribe<T>(
      { query, variables },
      {
        next: (value) => results.push(value as Watched<T>['results'][number]),
        error: reject,
        complete: resolve,
      },
    );
  });
  return { results, finished, client, drop: () => socket?.terminate() };
}

/** Opens a raw socket, sends `connection_init` with `payload`, and resolves with the close code. */
export function closeCodeFor(graphqlUrl: string, payload: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(graphqlUrl.replace(/^http/, 'ws'), 'graphql-transport-ws');
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload })));
    socket.on('message', (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string };
      if (message.type === 'connection_ack') reject(new Error('connection acknowledged'));
    });
    socket.on('close', (code) => resolve(code));
    socket.on('error', reject);
  });
}
